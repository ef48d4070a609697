// Finalize's checks of the authorizations, CAA and the CSR key (see finalize_checks.h).
#include "gateway/finalize_checks.h"

#include <optional>
#include <utility>

#include "common/log.h"
#include "gateway/csr.h"

namespace ca::gateway {

namespace {

// The authorization's state as of `now`, and the type of its valid challenge.
Result<std::pair<AuthzStatus, std::string>> AuthzState(const StoreTxn& txn, const AuthzRecord& a,
                                                       int64_t now) {
  AuthzStatus status = a.status;
  if ((status == AuthzStatus::kValid || status == AuthzStatus::kPending) && now > a.expires)
    status = AuthzStatus::kExpired;
  std::string method;
  for (const auto& cid : a.challenge_ids) {
    auto c = CA_TRY(txn.GetChallenge(cid));
    if (c && c->status == ChallengeStatus::kValid) method = c->type;
  }
  return std::pair{status, method};
}

// ready -> invalid (only from ready: a concurrent finalize may already be processing it).
Status InvalidateReadyOrder(HandlerContext& s, const std::string& id, const Problem& why) {
  return s.store.Write([&](StoreTxn& txn) -> Status {
    auto order = CA_TRY(txn.GetOrder(id));
    if (!order || order->status != OrderStatus::kReady) return {};
    order->status = OrderStatus::kInvalid;
    order->error = ProblemToJson(why);
    return txn.PutOrder(*order);
  });
}

}  // namespace

ProblemOr<std::vector<AuthorizedName>> AuthorizedNames(HandlerContext& s, const OrderRecord& order,
                                                       int64_t now) {
  std::vector<AuthorizedName> out;
  std::optional<Problem> refusal;
  {
    auto txn = s.store.Read();
    if (!txn) return Internal(txn.error());
    for (const auto& aid : order.authz_ids) {
      auto a = txn->GetAuthz(aid);
      if (!a || !*a) return Internal(a ? Error{ErrorCode::kCorrupt, "missing authz"} : a.error());
      auto state = AuthzState(*txn, **a, now);
      if (!state) return Internal(state.error());
      if (state->first != AuthzStatus::kValid || state->second.empty()) {
        refusal = MakeProblem(ProblemKind::kUnauthorized, "authorization for " + (*a)->name +
                                                              " is " + StatusName(state->first));
        break;
      }
      out.push_back({std::move(**a), state->second});
    }
  }
  if (!refusal) return out;
  if (auto st = InvalidateReadyOrder(s, order.id, *refusal); !st) return Internal(st.error());
  log::Warn("finalize_refused", {{"order", order.id}, {"detail", refusal->detail}});
  return std::unexpected(OrderNotReady("invalid", ProblemToJson(*refusal)));
}

ProblemOr<std::vector<AuthzRecord>> RecheckCaa(HandlerContext& s, const AccountRecord& account,
                                               const std::vector<AuthorizedName>& authorized,
                                               int64_t now) {
  std::vector<AuthzRecord> rechecked;
  std::vector<Subproblem> caa_failures;
  const std::string account_uri = s.Url("/acme/acct/" + account.id);
  for (const auto& [authz, method] : authorized) {
    if (now - authz.caa_checked_at <= s.options.caa_recheck_seconds) continue;
    auto result = s.validator.CheckCaa(authz.name, authz.wildcard, account_uri, method);
    if (result.status == ValidationResult::Status::kValid) {
      rechecked.push_back(authz);
      rechecked.back().caa_checked_at = now;
    } else if (result.status == ValidationResult::Status::kUnavailable) {
      Problem p =
          MakeProblem(ProblemKind::kUnavailable, "INVALID_DNSCAA: CAA for " + authz.name +
                                                     " could not be checked: " + result.detail);
      p.retry_after_seconds = 10;
      return std::unexpected(p);
    } else {
      caa_failures.push_back({ProblemKind::kCaa, "INVALID_DNSCAA: " + result.detail,
                              (authz.wildcard ? "*." : "") + authz.name});
    }
  }
  if (!caa_failures.empty()) {
    Problem p = MakeProblem(ProblemKind::kCaa,
                            "INVALID_DNSCAA: " + caa_failures.front().dns_name +
                                ": CAA forbids issuance: " + caa_failures.front().detail);
    p.subproblems = caa_failures;
    return std::unexpected(p);
  }
  return rechecked;
}

ProblemOr<void> CheckFinalizeCsr(HandlerContext& s, EVP_PKEY* account_key,
                                 std::span<const uint8_t> der, const OrderRecord& order) {
  auto profile_id = profiles::policy::ParseProfile(order.profile);
  auto profile = profile_id ? s.options.certificate_profiles.find(*profile_id)
                            : s.options.certificate_profiles.end();
  if (profile == s.options.certificate_profiles.end())
    return Internal(Error{ErrorCode::kInternal, "profile " + order.profile + " is not loaded"});
  if (account_key == nullptr)
    return Internal(Error{ErrorCode::kInternal, "finalize without the account's verified key"});
  CA_TRY(CheckCsr(der, order.names, profile->second, account_key));
  return {};
}

}  // namespace ca::gateway
