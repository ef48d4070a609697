// Finalize (POST /acme/order/{id}/finalize): CSR check, policy re-check, CAA recheck,
// ready → processing, the engine call, and the order's final state.
#include "gateway/handlers.h"

#include "common/encoding.h"
#include "common/log.h"
#include "gateway/acme_metrics.h"
#include "gateway/challenge_validations.h"
#include "gateway/csr.h"
#include "gateway/finalize.h"
#include "gateway/finalize_checks.h"
#include "gateway/order_state.h"

namespace ca::gateway {

using nlohmann::json;

namespace {

// Finalize could not complete after the engine was asked (CTD ACME_ORDER_FINALIZE_ERROR): 503 with
// Retry-After, since the order either went back to ready or completes by itself (resume).
std::unexpected<Problem> FinalizeError(const Error& error, const std::string& detail) {
  log::Error("finalize_error", {{"error", error.ToString()}});
  Problem p = MakeProblem(ProblemKind::kUnavailable, "ACME_ORDER_FINALIZE_ERROR: " + detail);
  p.retry_after_seconds = kResumeFirstDelaySeconds;
  return std::unexpected(p);
}

// ready → processing, atomically and durably: of concurrent finalize requests only one gets past
// this, and a gateway restarted after a crash finds the order processing with what it needs to ask
// the engine again (ResumeFinalize): the CSR and the policy version.
ProblemOr<OrderRecord> StartProcessing(HandlerContext& s, const std::string& id,
                                       const std::vector<AuthzRecord>& rechecked,
                                       const Bytes& csr_der, uint64_t policy_version) {
  OrderRecord order;
  OrderStatus found_status = OrderStatus::kReady;
  nlohmann::json found_error;
  Status written = s.store.Write([&](StoreTxn& txn) -> Status {
    auto stored = CA_TRY(txn.GetOrder(id));
    if (!stored) return Fail(ErrorCode::kCorrupt, "order vanished");
    found_status = stored->status;
    found_error = stored->error;
    if (found_status != OrderStatus::kReady) return {};
    stored->status = OrderStatus::kProcessing;
    stored->finalize_csr = Base64UrlEncode(csr_der);
    stored->policy_version = policy_version;
    order = std::move(*stored);
    for (const auto& a : rechecked) CA_TRY_STATUS(txn.PutAuthz(a));
    return txn.PutOrder(order);
  });
  if (!written) return Internal(written.error());
  if (found_status != OrderStatus::kReady)
    return std::unexpected(OrderNotReady(StatusName(found_status), found_error));
  return order;
}

// Stores the order's state after the engine call (and the certificate, when issued).
Status FinishOrder(HandlerContext& s, const AccountRecord& account, OrderRecord& order,
                   OrderStatus status, const json& error,
                   const engine::api::IssueResponse* issued) {
  return s.store.Write([&](StoreTxn& txn) -> Status {
    auto stored = CA_TRY(txn.GetOrder(order.id));
    if (!stored) return Fail(ErrorCode::kCorrupt, "order vanished");
    if (stored->status != OrderStatus::kProcessing || status == OrderStatus::kProcessing) {
      // (Still processing: a resumed finalize retries later; nothing changes, nothing to write.)
      // Recorded meanwhile (a resumed finalize and this one both asked the engine, which
      // answers both with the order's one certificate): never overwrite that outcome.
      order = std::move(*stored);
      return {};
    }
    stored->status = status;
    stored->finalize_csr.clear();  // only needed while processing
    stored->error = error;
    if (issued != nullptr) {
      stored->serial_hex = issued->serial_hex;  // canonical (pki::Serial), checked by the contract
      CertRecord cert{stored->serial_hex, account.id,        account.external_account_kid,
                      order.id,           issued->chain_pem, issued->not_before,
                      issued->not_after};
      CA_TRY_STATUS(txn.PutCert(cert));
    }
    CA_TRY_STATUS(txn.PutOrder(*stored));
    order = std::move(*stored);
    return {};
  });
}

// Asks the engine to issue and records the outcome on the order (processing → valid, invalid, or
// back to ready when the engine may not have signed).
// `retry_status` is the state when the engine may not have signed: ready for a client's finalize
// (the client retries; the engine answers per order), processing for a resumed one (retried here).
Outcome Issue(HandlerContext& s, RequestState& ctx, const AccountRecord& account, OrderRecord order,
              const Bytes& csr_der, uint64_t policy_version,
              OrderStatus retry_status = OrderStatus::kReady) {
  const std::string id = order.id;
  engine::api::IssueRequest issue;
  issue.request_id = order.request_id;
  issue.order_id = order.id;
  issue.acme_account_id = account.id;
  issue.external_account_kid = account.external_account_kid;
  issue.profile = order.profile;
  issue.names = order.names;
  issue.csr_der = csr_der;
  issue.policy_version = policy_version;
  issue.environment = s.Environment();
  auto answer = s.issuer.Call(issue);

  if (!answer) {
    // Transport failure: the engine may or may not have signed. Back to ready; the engine keys
    // issuance by order, so a retried finalize (any CSR) gets the certificate if it did.
    if (auto st = FinishOrder(s, account, order, retry_status, json(), nullptr); !st)
      return Internal(st.error());
    log::Warn("engine_unavailable", {{"order", id}, {"error", answer.error().ToString()}});
    return EngineUnavailable("ACME_CA_ERROR: the signing engine is unavailable, retry finalize");
  }
  if (auto* err = std::get_if<engine::api::EngineError>(&*answer)) {
    Problem p = ProblemForEngineError(*err);
    if (err->kind == engine::api::EngineErrorKind::kUnavailable) {
      if (auto st = FinishOrder(s, account, order, retry_status, json(), nullptr); !st)
        return Internal(st.error());
      return std::unexpected(p);
    }
    if (auto st = FinishOrder(s, account, order, OrderStatus::kInvalid, ProblemToJson(p), nullptr);
        !st)
      return Internal(st.error());
    log::Warn("issuance_refused", {{"order", id},
                                   {"kind", engine::api::EngineErrorKindName(err->kind)},
                                   {"result_code", err->result_code}});
    return std::unexpected(p);
  }
  auto* issued = std::get_if<engine::api::IssueResponse>(&*answer);
  if (issued == nullptr) {
    if (auto st = FinishOrder(s, account, order, retry_status, json(), nullptr); !st)
      return Internal(st.error());
    return FinalizeError(Error{ErrorCode::kInternal, "engine answered issue with another message type"},
                         "the signing engine's answer was not a certificate; retry finalize");
  }
  if (auto st = FinishOrder(s, account, order, OrderStatus::kValid, json(), issued); !st) {
    // Signed but not recorded: the order stays processing; resume it once the store recovers.
    s.validations.ResumeOrder(id, kResumeFirstDelaySeconds);
    return FinalizeError(st.error(), "the certificate was signed but not yet recorded; the order "
                                     "completes shortly, poll it");
  }
  ctx.log["serial"] = order.serial_hex;
  log::Info("certificate_issued", {{"account", account.id},
                                   {"order", id},
                                   {"serial", order.serial_hex},
                                   {"names", order.names}});
  s.metrics.CountIssued(order.profile);
  HttpResponse r = JsonResponse(200, OrderJson(s, order));
  r.headers.push_back({"Location", s.Url("/acme/order/" + id)});
  return r;
}

}  // namespace

ResumeResult ResumeFinalize(HandlerContext& s, const std::string& order_id) {
  OrderRecord order;
  AccountRecord account;
  {
    auto txn = s.store.Read();
    if (!txn) return ResumeResult::kRetryLater;
    auto stored = txn->GetOrder(order_id);
    if (!stored) return ResumeResult::kRetryLater;
    if (!*stored || (*stored)->status != OrderStatus::kProcessing) return ResumeResult::kDone;
    order = std::move(**stored);
    auto acct = txn->GetAccount(order.account_id);
    if (!acct) return ResumeResult::kRetryLater;
    if (!*acct) return ResumeResult::kDone;  // cannot happen: accounts are never deleted
    account = std::move(**acct);
  }
  auto csr_der = Base64UrlDecode(order.finalize_csr);
  if (!csr_der || csr_der->empty()) {
    // Set processing by a gateway that did not record the CSR: nothing to ask the engine again
    // with, so the client finalizes again (ready; the engine answers per order).
    OrderRecord copy = order;
    auto st = FinishOrder(s, account, copy, OrderStatus::kReady, json(), nullptr);
    return st ? ResumeResult::kDone : ResumeResult::kRetryLater;
  }
  RequestState ctx;
  auto outcome =
      Issue(s, ctx, account, order, *csr_der, order.policy_version, OrderStatus::kProcessing);
  auto now = CurrentOrder(s, order_id);
  bool still_processing = !now || (*now && (*now)->status == OrderStatus::kProcessing);
  log::Info("finalize_resumed", {{"order", order_id},
                                 {"status", now && *now ? StatusName((*now)->status) : "unknown"},
                                 {"serial", now && *now ? (*now)->serial_hex : ""},
                                 {"answered", outcome.has_value()}});
  return still_processing ? ResumeResult::kRetryLater : ResumeResult::kDone;
}

Outcome Finalize(HandlerContext& s, RequestState& ctx, const Jws& jws, const std::string& id) {
  auto payload = CA_TRY(PayloadObject(jws));
  ctx.log["order"] = id;
  const AccountRecord& account = *ctx.account;
  if (!payload.contains("csr") || !payload["csr"].is_string())
    return Err(ProblemKind::kMalformed, "finalize needs a csr");
  auto csr_der = Base64UrlDecode(payload["csr"].get<std::string>());
  if (!csr_der) return Err(ProblemKind::kBadCsr, "csr is not base64url");

  OrderRecord order;
  {
    auto current = CurrentOrder(s, id);
    if (!current) return Internal(current.error());
    if (!*current || (*current)->account_id != account.id)
      return Err(ProblemKind::kNotFound, "no such order");
    order = std::move(**current);
  }
  if (order.status != OrderStatus::kReady)
    return std::unexpected(OrderNotReady(StatusName(order.status), order.error));

  int64_t now = s.clock();
  auto authorized = CA_TRY(AuthorizedNames(s, order, now));  // finalize_checks.h
  CA_TRY_STATUS(CheckFinalizeCsr(s, ctx.account_key.get(), *csr_der, order));
  auto verdict = s.policy.Decide(account, order.names, order.profile, now);
  if (!verdict) return Internal(verdict.error());
  if (!verdict->allowed)
    return std::unexpected(
        ProblemForResultCode(verdict->result_code, verdict->name, verdict->detail));

  auto rechecked = CA_TRY(RecheckCaa(s, account, authorized, now));
  order = CA_TRY(StartProcessing(s, id, rechecked, *csr_der, verdict->policy_version));
  return Issue(s, ctx, account, std::move(order), *csr_der, verdict->policy_version);
}

}  // namespace ca::gateway
