#include "gateway/problems.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace ca::gateway {

namespace {

struct KindInfo {
  const char* type;  // suffix of urn:ietf:params:acme:error:
  int status;
};

KindInfo Info(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::kMalformed: return {"malformed", 400};
    case ProblemKind::kNotFound: return {"malformed", 404};
    case ProblemKind::kMethodNotAllowed: return {"malformed", 405};
    case ProblemKind::kUnsupportedMediaType: return {"malformed", 415};
    case ProblemKind::kPayloadTooLarge: return {"malformed", 413};
    case ProblemKind::kConflict: return {"malformed", 409};
    case ProblemKind::kBadNonce: return {"badNonce", 400};
    case ProblemKind::kBadSignatureAlgorithm: return {"badSignatureAlgorithm", 400};
    case ProblemKind::kBadPublicKey: return {"badPublicKey", 400};
    case ProblemKind::kUnauthorized: return {"unauthorized", 403};
    case ProblemKind::kAccountDoesNotExist: return {"accountDoesNotExist", 400};
    case ProblemKind::kExternalAccountRequired: return {"externalAccountRequired", 400};
    case ProblemKind::kRejectedIdentifier: return {"rejectedIdentifier", 400};
    case ProblemKind::kUnsupportedIdentifier: return {"unsupportedIdentifier", 400};
    case ProblemKind::kInvalidProfile: return {"invalidProfile", 400};
    case ProblemKind::kInvalidContact: return {"invalidContact", 400};
    case ProblemKind::kUnsupportedContact: return {"unsupportedContact", 400};
    case ProblemKind::kBadCsr: return {"badCSR", 400};
    case ProblemKind::kOrderNotReady: return {"orderNotReady", 403};
    case ProblemKind::kRateLimited: return {"rateLimited", 429};
    case ProblemKind::kCaa: return {"caa", 403};
    case ProblemKind::kBadRevocationReason: return {"badRevocationReason", 400};
    case ProblemKind::kAlreadyRevoked: return {"alreadyRevoked", 400};
    case ProblemKind::kIncorrectResponse: return {"incorrectResponse", 400};
    case ProblemKind::kConnection: return {"connection", 400};
    case ProblemKind::kDns: return {"dns", 400};
    case ProblemKind::kTls: return {"tls", 400};
    case ProblemKind::kUnavailable: return {"serverInternal", 503};
    case ProblemKind::kServerInternal: return {"serverInternal", 500};
  }
  return {"serverInternal", 500};
}

// Operator result codes that concern one identifier (CTD "Result code").
constexpr std::array<std::string_view, 7> kIdentifierCodes = {
    "DOMAIN_NOT_ASSOCIATED",        "DOMAIN_NOT_FOUND",
    "INVALID_DOMAIN",               "INVALID_DOMAIN_FOR_WILDCARD_PROFILE",
    "INVALID_PROFILE_FOR_WILDCARD", "NOT_SAME_ORGANIZATION",
    "UNAUTHORIZED_DOMAIN",
};

bool IsIdentifierCode(std::string_view code) {
  for (auto c : kIdentifierCodes)
    if (c == code) return true;
  return false;
}

std::string JoinDetail(std::string_view code, std::string_view name, std::string_view detail) {
  std::string out(code);
  if (!name.empty()) {
    out += ": ";
    out += name;
  }
  if (!detail.empty() && detail != name) {
    out += name.empty() ? ": " : " (";
    out += detail;
    if (!name.empty()) out += ")";
  }
  return out;
}

}  // namespace

std::string ResultCodeOf(std::string_view detail) {
  auto colon = detail.find(':');
  if (colon == std::string_view::npos || colon == 0) return "";
  std::string_view code = detail.substr(0, colon);
  bool is_code = std::all_of(code.begin(), code.end(), [](char c) {
    return std::isupper(static_cast<unsigned char>(c)) || c == '_';
  });
  return is_code ? std::string(code) : "";
}

Problem OrderNotReady(std::string_view status, const nlohmann::json& order_error) {
  std::string stored_detail;
  if (order_error.is_object() && order_error.contains("detail") && order_error["detail"].is_string())
    stored_detail = order_error["detail"].get<std::string>();
  std::string code = ResultCodeOf(stored_detail);
  std::string detail = (code.empty() ? std::string("ACME_ORDER_NOT_READ") : code) + ": order is " +
                       std::string(status) + ", not ready";
  if (!stored_detail.empty()) detail += " (" + stored_detail + ")";
  return MakeProblem(ProblemKind::kOrderNotReady, std::move(detail));
}

std::string ProblemType(ProblemKind kind) {
  return std::string("urn:ietf:params:acme:error:") + Info(kind).type;
}

int ProblemHttpStatus(ProblemKind kind) { return Info(kind).status; }

const std::vector<std::string>& SupportedJwsAlgorithms() {
  static const std::vector<std::string> algs = {"RS256", "ES256", "ES384", "EdDSA"};
  return algs;
}

nlohmann::json ProblemToJson(const Problem& problem) {
  nlohmann::json doc = {{"type", ProblemType(problem.kind)},
                        {"detail", problem.detail},
                        {"status", ProblemHttpStatus(problem.kind)}};
  if (problem.kind == ProblemKind::kBadSignatureAlgorithm) doc["algorithms"] = SupportedJwsAlgorithms();
  if (!problem.subproblems.empty()) {
    nlohmann::json subs = nlohmann::json::array();
    for (const auto& s : problem.subproblems) {
      subs.push_back({{"type", ProblemType(s.kind)},
                      {"detail", s.detail},
                      {"identifier", {{"type", "dns"}, {"value", s.dns_name}}}});
    }
    doc["subproblems"] = std::move(subs);
  }
  return doc;
}

Problem ProblemForResultCode(std::string_view code, std::string_view name, std::string_view detail) {
  std::string text = JoinDetail(code, name, detail);
  auto with_sub = [&](ProblemKind kind) {
    Problem p = MakeProblem(kind, text);
    if (!name.empty()) p.subproblems.push_back({kind, text, std::string(name)});
    return p;
  };
  if (IsIdentifierCode(code)) return with_sub(ProblemKind::kRejectedIdentifier);
  if (code == "INVALID_DNSCAA") return with_sub(ProblemKind::kCaa);
  if (code == "RATE_LIMITED") {
    Problem p = with_sub(ProblemKind::kRateLimited);
    p.retry_after_seconds = 3600;
    return p;
  }
  if (code == "PROFILE_NOT_ALLOWED") return MakeProblem(ProblemKind::kInvalidProfile, text);
  if (code == "ACCOUNT_NOT_FOUND" || code == "ACME_ACCOUNT_NOT_FOUND")
    return MakeProblem(ProblemKind::kAccountDoesNotExist, text);
  if (code.starts_with("ACME_")) return MakeProblem(ProblemKind::kServerInternal, text);
  // Account, external-account and organization states (SUSPENDED_ACCOUNT, EXPIRED_EXTERNAL_ACCOUNT,
  // EXTERNAL_ACCOUNT_NOT_FOUND, ORGANIZATION_IS_NOT_VALID, OUT_OF_CREDIT, …).
  return MakeProblem(ProblemKind::kUnauthorized, text);
}

Problem ProblemForEngineError(const engine::api::EngineError& error) {
  using K = engine::api::EngineErrorKind;
  switch (error.kind) {
    case K::kPolicyDenied:
      return ProblemForResultCode(error.result_code.empty() ? "ACME_CA_ERROR" : error.result_code,
                                  error.name, error.detail);
    case K::kBadCsr:
      return MakeProblem(ProblemKind::kBadCsr, error.detail);
    case K::kAlreadyRevoked:
      return MakeProblem(ProblemKind::kAlreadyRevoked, error.detail);
    case K::kNotFound:
      return MakeProblem(ProblemKind::kMalformed, "ACME_REQUEST_NOT_FOUND: " + error.detail);
    case K::kUnavailable: {
      Problem p = MakeProblem(ProblemKind::kUnavailable, "ACME_CA_ERROR: " + error.detail);
      p.retry_after_seconds = 5;
      return p;
    }
    case K::kBadRequest:
    case K::kUnauthorized:
    case K::kInternal:
      break;
  }
  return MakeProblem(ProblemKind::kServerInternal, "ACME_CA_ERROR: " + error.detail);
}

}  // namespace ca::gateway
