#include "gateway/handler_context.h"

#include <algorithm>
#include <cctype>

#include "common/encoding.h"
#include "common/log.h"

namespace ca::gateway {

engine::api::CaEnvironment HandlerContext::Environment() const {
  return options.environment == "staging" ? engine::api::CaEnvironment::kStaging
                                          : engine::api::CaEnvironment::kProduction;
}

std::unexpected<Problem> Err(ProblemKind kind, std::string detail) {
  return std::unexpected(MakeProblem(kind, std::move(detail)));
}

std::unexpected<Problem> Internal(const Error& e) {
  if (e.code == ErrorCode::kResourceExhausted) {
    // The store's map is full (MDB_MAP_FULL): nothing was written; retention frees pages, or the
    // operator raises store_map_size_mb. A clean, retryable refusal, not a corrupt store.
    log::Error("store_full", {{"error", e.ToString()}});
    Problem p = MakeProblem(ProblemKind::kUnavailable,
                            "ACME_OTHER_ERROR: the CA's order store is full; retry later");
    p.retry_after_seconds = 60;
    return std::unexpected(p);
  }
  if (e.code == ErrorCode::kUnavailable) {
    // The store cannot be reached or lost its primary (a pair's failover: kv/postgres answers
    // kUnavailable until libpq finds the new primary); nothing was acknowledged. Retryable.
    log::Error("store_unavailable", {{"error", e.ToString()}});
    Problem p = MakeProblem(ProblemKind::kUnavailable,
                            "ACME_OTHER_ERROR: the CA's store is unavailable; retry later");
    p.retry_after_seconds = 5;
    return std::unexpected(p);
  }
  log::Error("internal_error", {{"error", e.ToString()}});
  return Err(ProblemKind::kServerInternal, "ACME_OTHER_ERROR: internal error");
}

std::unexpected<Problem> EngineUnavailable(std::string detail) {
  Problem p = MakeProblem(ProblemKind::kUnavailable, std::move(detail));
  p.retry_after_seconds = 5;
  return std::unexpected(p);
}

HttpResponse JsonResponse(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  // Compact (clients parse it; pretty-printing cost CPU and bytes on every response). Invalid UTF-8
  // (a problem detail can quote the request path) is replaced rather than thrown.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

std::string NewId() {
  return Base64UrlEncode(RandomBytes(16));
}

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

ProblemOr<nlohmann::json> PayloadObject(const Jws& jws) {
  if (jws.PostAsGet()) return Err(ProblemKind::kMalformed, "this request needs a JSON payload");
  auto parsed = ParseBoundedJson(AsString(jws.payload));
  if (!parsed || !parsed->is_object())
    return Err(ProblemKind::kMalformed, "JWS payload is not a JSON object");
  return std::move(*parsed);
}

}  // namespace ca::gateway
