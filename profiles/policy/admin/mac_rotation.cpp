#include "profiles/policy/admin/mac_rotation.h"

#include <algorithm>

#include "common/encoding.h"
#include "profiles/policy/mac_key.h"

namespace ca::profiles::policy::admin {

using nlohmann::json;

namespace {

std::unexpected<Error> NotNow(const std::string& kid, std::string_view what) {
  return Fail(ErrorCode::kFailedPrecondition,
              "external account " + kid + ": no MAC key " + std::string(what) + " is due now");
}

// One write on one account: `change` edits the record (or refuses), the audit record names
// `action` and carries `detail` beside the record after the change.
Result<ExternalAccount> WriteStep(const AdminContext& ctx, const std::string& kid,
                                  const std::string& action, const json& detail,
                                  const std::function<Status(ExternalAccount&)>& change) {
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  auto found = w.FindExternalAccount(kid);
  if (!found) return Fail(ErrorCode::kNotFound, "unknown external account " + kid);
  ExternalAccount a = *found;
  CA_TRY_STATUS(change(a));
  if (ToJson(a) != ToJson(*found)) {
    a.updated_at = ctx.now;
    CA_TRY_STATUS(w.PutExternalAccount(a));
  }
  json after = ToPublicJson(a, ctx.now);
  after["mac_rotation_step"] = detail;
  CA_TRY_STATUS(
      w.Audit(action, "external_account", kid, kid, "", ToPublicJson(*found, ctx.now), after));
  CA_TRY_STATUS(w.Commit());
  return a;
}

bool Final(const ExternalAccount& a) {
  return a.status == ExternalAccountStatus::kRevoked ||
         a.status == ExternalAccountStatus::kDeactivated;
}

}  // namespace

Status CheckMacRotation(const ExternalAccount& a) {
  const auto& period = a.mac_rotation.period_days;
  if (period && *period > kMaxMacRotationDays) {
    return Fail(ErrorCode::kInvalidArgument, "the MAC rotation period is at most " +
                                                 std::to_string(kMaxMacRotationDays) +
                                                 " days, not " + std::to_string(*period));
  }
  if (period && *period > 0 && a.mac_rotation.recipient_key_pem.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "MAC key rotation needs the requester's recipient key (--recipient-key PEM): a "
                "rotated key is only handed over encrypted to it");
  }
  if (!a.mac_rotation.recipient_key_pem.empty())
    CA_TRY(RecipientPublicKeyFromPem(a.mac_rotation.recipient_key_pem));
  return Ok();
}

uint32_t MacRotationPeriodDays(const ExternalAccount& a, const MacRotationSettings& s) {
  return a.mac_rotation.period_days.value_or(s.default_period_days);
}

std::optional<int64_t> MacRotationDueAt(const ExternalAccount& a, const MacRotationSettings& s) {
  uint32_t days = MacRotationPeriodDays(a, s);
  if (days == 0) return std::nullopt;
  int64_t issued = a.mac_rotation.key_issued_at != 0 ? a.mac_rotation.key_issued_at : a.created_at;
  return issued + int64_t{days} * kSecondsPerDay;
}

MacRotationPlan PlanMacRotation(const ExternalAccount& a, const MacRotationSettings& s,
                                int64_t now) {
  MacRotationPlan plan;
  if (Final(a)) return plan;
  if (!a.mac_rotation.undelivered.empty()) {
    plan.step = MacRotationStep::kDeliver;
    return plan;
  }
  // Only a key in use rotates: a pending, suspended or expired account's key waits (its schedule
  // resumes where it is when the account is active again).
  if (a.status != ExternalAccountStatus::kActive || a.Expired(now) || a.NotYetValid(now))
    return plan;
  if (a.mac_rotation.announced_at != 0) {
    if (now >= a.mac_rotation.announced_at) {
      plan.step = MacRotationStep::kRotate;
      plan.rotate_at = a.mac_rotation.announced_at;
    }
    return plan;
  }
  auto due = MacRotationDueAt(a, s);
  if (!due) return plan;
  const int64_t lead = int64_t{s.notice_days} * kSecondsPerDay;
  if (now < *due - lead) return plan;
  if (a.mac_rotation.recipient_key_pem.empty()) {
    plan.step = MacRotationStep::kBlocked;
    plan.why = "no recipient key registered (ca-ra ext-account update " + a.kid +
               " --recipient-key PEM): the key is not rotated";
    return plan;
  }
  plan.step = MacRotationStep::kNotify;
  plan.rotate_at = std::max(*due, now + lead);  // a late notice moves the rotation, never earlier
  return plan;
}

Result<ExternalAccount> RecordMacRotationNotice(const AdminContext& ctx, const std::string& kid,
                                                const MacRotationSettings& s, int64_t rotate_at,
                                                const std::vector<std::string>& recipients) {
  json detail = {
      {"step", "notice"}, {"rotate_at", FormatTime(rotate_at)}, {"recipients", recipients}};
  return WriteStep(ctx, kid, "ext-account.mac-rotation-notice", detail,
                   [&](ExternalAccount& a) -> Status {
                     if (PlanMacRotation(a, s, ctx.now).step != MacRotationStep::kNotify)
                       return NotNow(kid, "notice");
                     a.mac_rotation.announced_at = rotate_at;
                     return Ok();
                   });
}

Result<ExternalAccount> RotateMacKey(const AdminContext& ctx, const std::string& kid,
                                     const EVP_PKEY* hsm_wrap_public,
                                     const MacRotationSettings& s) {
  auto seal = [&](const ExternalAccount& before, ExternalAccount& a, const Secret& mac) -> Status {
    if (PlanMacRotation(before, s, ctx.now).step != MacRotationStep::kRotate)
      return NotNow(kid, "rotation");
    auto recipient = CA_TRY(RecipientPublicKeyFromPem(before.mac_rotation.recipient_key_pem));
    auto sealed = CA_TRY(EncryptMacKeyForRecipient(mac, recipient.get()));
    a.mac_rotation.undelivered = Base64Encode(sealed);
    return Ok();
  };
  auto issued = CA_TRY(ReplaceMacKey(ctx, kid, hsm_wrap_public, "ext-account.rotate-mac", seal));
  return std::move(issued.account);  // issued.mac_key (the clear key) is wiped here
}

Result<ExternalAccount> RecordMacKeyDelivered(const AdminContext& ctx, const std::string& kid,
                                              const std::vector<std::string>& recipients) {
  json detail = {{"step", "delivery"}, {"recipients", recipients}};
  return WriteStep(ctx, kid, "ext-account.mac-key-delivered", detail,
                   [&](ExternalAccount& a) -> Status {
                     if (a.mac_rotation.undelivered.empty()) return NotNow(kid, "delivery");
                     a.mac_rotation.undelivered.clear();
                     return Ok();
                   });
}

Status RecordMacRotationFailure(const AdminContext& ctx, const std::string& kid,
                                std::string_view what, std::string_view error) {
  json detail = {{"step", what}, {"error", error}};
  CA_TRY(WriteStep(ctx, kid, "ext-account.mac-rotation-failed", detail,
                   [](ExternalAccount&) -> Status { return Ok(); }));
  return Ok();
}

}  // namespace ca::profiles::policy::admin
