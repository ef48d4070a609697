// ca-ra ext-account rotate-due: one run of the scheduled MAC key rotation (ANSSI R9), started daily
// by acme-ca-mac-rotation.timer and usable by hand. For each external account, the step that
// profiles/policy/admin/mac_rotation.h plans at this run's clock: the notice mail, the rotation
// (the code of regenerate-mac, the new key sealed to the registered recipient key), the sealed
// key's mail. Mail goes through the reporter's SMTP relay (reports/mail, report_config in ra.conf).
// Each step is one audited write that refuses to repeat: a second run sends nothing twice.
#include <optional>

#include "appliance/ra/cli.h"
#include "appliance/ra/mac_rotation_mail.h"
#include "appliance/ra/text.h"
#include "profiles/policy/admin/mac_rotation.h"
#include "profiles/policy/mac_key.h"
#include "reports/mail/address.h"
#include "reports/reporter.h"

namespace ca::appliance::ra {

using namespace ca::profiles::policy;
using namespace ca::profiles::policy::admin;
using nlohmann::json;

uint32_t ParseDays(const std::string& what, const std::string& v) {
  if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos)
    throw CommandError{what + " must be a number of days (0 to " +
                       std::to_string(kMaxMacRotationDays) + "), got '" + v + "'"};
  uint32_t n = static_cast<uint32_t>(std::stoul(v));
  if (n > kMaxMacRotationDays)
    throw CommandError{what + " is at most " + std::to_string(kMaxMacRotationDays) + " days"};
  return n;
}

std::optional<std::string> Cli::RecipientKeyPem() const {
  auto path = a_.Get("--recipient-key");
  if (!path) return std::nullopt;
  ossl::Pkey key = Must(LoadRecipientPublicKey(*path));
  return Must(ossl::PublicKeyToPem(key.get()));
}

// Before a create or update that sets a period: it must outlast the notice, and the contacts need
// a mail address (the notice and the sealed key are mailed). The recipient key is checked by the
// store (CheckMacRotation).
void Cli::CheckRotationFields(const ExternalAccountFields& f,
                              const std::vector<std::string>& contacts) const {
  if (!f.mac_rotation_days || *f.mac_rotation_days == 0) return;
  if (*f.mac_rotation_days <= rotation_.notice_days)
    throw CommandError{"--mac-rotation-days " + std::to_string(*f.mac_rotation_days) +
                       " must be longer than the notice lead time (" +
                       std::to_string(rotation_.notice_days) + " days, mac_rotation_notice_days)"};
  if (reports::mail::RecipientAddresses(contacts).empty())
    throw CommandError{
        "MAC key rotation mails the notice and the encrypted key: give a contact "
        "with a mail address (--contact 'Name <addr@example>')"};
}

int Cli::RotateDue() {
  NoExtraArgs(2);
  const int64_t now = a_.Get("--now") ? Must(ParseTime(*a_.Get("--now"))) : Now();
  if (rotation_.default_period_days != 0 && rotation_.default_period_days <= rotation_.notice_days)
    throw CommandError{"mac_rotation_days must be longer than mac_rotation_notice_days (or 0)"};
  const std::string config = a_.Get("--report-config").value_or(report_config_);
  std::optional<reports::mail::SmtpSender> sender;
  std::string no_relay;
  if (config.empty()) {
    no_relay = "no SMTP relay (report_config in the RA config, or --report-config)";
  } else {
    auto reporter = Must(reports::LoadReporterConfig(config));
    if (reporter.smtp)
      sender.emplace(Must(reports::mail::SmtpSender::Create(*reporter.smtp)));
    else
      no_relay = "no SMTP relay in " + config;
  }
  AdminContext ctx = Ctx();
  ctx.now = now;
  std::optional<ossl::Pkey> wrap;
  json lines = json::array();
  std::string text;
  bool failed = false;
  auto line = [&](const std::string& kid, const std::string& result, const std::string& detail) {
    lines.push_back({{"kid", kid}, {"result", result}, {"detail", detail}});
    text += kid + "  " + result + (detail.empty() ? "" : ": " + detail) + "\n";
  };
  // A step another run did in the meantime is refused by its write (kFailedPrecondition): said,
  // not fatal. Anything else ends the run.
  auto done_elsewhere = [&](const std::string& kid, const Error& e) {
    if (e.code != ErrorCode::kFailedPrecondition) throw CommandError{e.message};
    line(kid, "skipped", e.message + " (another run did it)");
  };
  auto mail_failed = [&](const std::string& kid, const char* step, const Error& e) {
    Must(RecordMacRotationFailure(ctx, kid, step, e.message));
    failed = true;
    line(kid, std::string(step) + " failed", e.message + " (the next run retries)");
  };
  auto deliver = [&](const ExternalAccount& a, const std::vector<std::string>& to) {
    if (!sender)
      return mail_failed(a.kid, "delivery", Error{ErrorCode::kFailedPrecondition, no_relay});
    if (auto s = sender->Send(BuildRotatedMacKeyMail(a, to), now); !s)
      return mail_failed(a.kid, "delivery", s.error());
    if (auto r = RecordMacKeyDelivered(ctx, a.kid, to); !r) return done_elsewhere(a.kid, r.error());
    line(a.kid, "key delivered", "encrypted to the recipient key, mailed to " + Join(to, ", "));
  };
  for (const auto& a : Must(Store(false).Snapshot()).ExternalAccounts()) {
    MacRotationPlan plan = PlanMacRotation(a, rotation_, now);
    std::vector<std::string> to = reports::mail::RecipientAddresses(a.contacts);
    // Nobody is told, and no key replaced, unless both mails can go out: a key replaced but not
    // deliverable would only lock the holder out.
    if (plan.step == MacRotationStep::kNotify || plan.step == MacRotationStep::kRotate) {
      if (to.empty()) plan = {MacRotationStep::kBlocked, 0, "no mail address among the contacts"};
      if (!sender) plan = {MacRotationStep::kBlocked, 0, no_relay};
    }
    switch (plan.step) {
      case MacRotationStep::kNothing:
        break;
      case MacRotationStep::kBlocked:
        line(a.kid, "not rotated", plan.why);
        break;
      case MacRotationStep::kNotify: {
        if (auto s = sender->Send(BuildMacRotationNotice(a, plan.rotate_at, to), now); !s) {
          mail_failed(a.kid, "notice", s.error());
          break;
        }
        auto r = RecordMacRotationNotice(ctx, a.kid, rotation_, plan.rotate_at, to);
        if (!r) {
          done_elsewhere(a.kid, r.error());
          break;
        }
        line(a.kid, "notice sent",
             "rotation on " + FormatTime(plan.rotate_at) + ", mailed to " + Join(to, ", "));
        break;
      }
      case MacRotationStep::kRotate: {
        if (!wrap) wrap = MacWrapPublicKey();
        auto rotated = RotateMacKey(ctx, a.kid, wrap->get(), rotation_);
        if (!rotated) {
          done_elsewhere(a.kid, rotated.error());
          break;
        }
        line(a.kid, "rotated", "the previous MAC key no longer works");
        deliver(*rotated, to);
        break;
      }
      case MacRotationStep::kDeliver:
        deliver(a, to);
        break;
    }
  }
  if (lines.empty()) text = "nothing due\n";
  Print(json{{"now", FormatTime(now)}, {"accounts", lines}}, text);
  return failed ? 1 : 0;
}

}  // namespace ca::appliance::ra
