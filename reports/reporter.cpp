#include "reports/reporter.h"

#include <fstream>

#include "common/log.h"
#include "pki/json_fields.h"
#include "pki/time.h"
#include "profiles/policy/store.h"
#include "reports/expiry_notices.h"
#include "reports/report_delivery.h"
#include "reports/report_source.h"
#include "reports/reporter_state.h"
#include "reports/schedule.h"

namespace ca::reports {
namespace {

using profiles::policy::ExternalAccount;

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string PeriodText(const Period& p) {
  return UtcDate(p.since) + ".." + UtcDate(p.until);
}

class Run {
 public:
  Run(const ReporterConfig& config, ReporterState& state, SendMail send, int64_t now)
      : config_(config), state_(state), send_(std::move(send)), now_(now) {}

  Status Report(const ExternalAccount& account, const AccountSummary& summary,
                const AccountHistory& history) {
    auto last = CA_TRY(state_.LastReportUntil(account.kid));
    auto due = DuePeriod(account.report_period, account.created_at, last, now_);
    if (!due) return Ok();
    AccountReport report = BuildAccountReport(history, summary, due->since, due->until, now_);
    auto d = CA_TRY(DeliverReport(report, config_.report_dir, send_));
    std::string what = "report " + account.kid + " " + PeriodText(*due);
    if (d.result == DeliveryResult::kFailed) {
      Add(true, "failed " + what + " to " + Join(d.recipients) + ": " + d.error);
      return Ok();  // not recorded: the next run sends it again
    }
    bool sent = d.result == DeliveryResult::kSent;
    CA_TRY_STATUS(state_.SetLastReport(account.kid, *due, sent ? "sent" : "filed", now_));
    Add(false, sent ? "sent " + what + " to " + Join(d.recipients)
                    : "filed " + what + " (" + d.filed_reason + "): " + Join(d.files));
    return Ok();
  }

  Status Notices(const AccountSummary& summary, const AccountHistory& history) {
    auto o =
        CA_TRY(RunExpiryNotices(state_, summary, history, config_.expiry_notice_days, send_, now_));
    for (const auto& key : o.unknown) {
      log::Warn("expiry_notice_outcome_unknown", {{"notice", key}, {"kid", summary.kid}});
      Add(false, "unknown expiry-notice " + key + ": pending since an earlier run, not sent again");
    }
    if (o.result == NoticeResult::kNothingDue) return Ok();
    std::vector<std::string> serials;
    for (const auto& d : o.notified)
      serials.push_back(d.certificate.serial_hex + "@" + std::to_string(d.threshold_days) + "d");
    std::string file = CA_TRY(
        WriteNoticeFile(config_.report_dir, summary.kid, "expiry-notice-" + UtcDate(now_), o.html));
    std::string what = "expiry-notice " + summary.kid + " " + Join(serials);
    if (o.result == NoticeResult::kSent) Add(false, "sent " + what + " to " + Join(o.recipients));
    if (o.result == NoticeResult::kFailed)
      Add(true, "failed " + what + " to " + Join(o.recipients) + ": " + o.error);
    if (o.result == NoticeResult::kFiled)
      Add(false, "filed " + what + " (" +
                     (o.recipients.empty() ? "no mail address among the account's contacts"
                                           : "no SMTP relay configured") +
                     "): " + file);
    return Ok();
  }

  RunSummary Take() { return std::move(summary_); }

 private:
  void Add(bool failed, std::string text) { summary_.lines.push_back({failed, std::move(text)}); }

  const ReporterConfig& config_;
  ReporterState& state_;
  SendMail send_;
  int64_t now_;
  RunSummary summary_;
};

}  // namespace

bool RunSummary::any_failed() const {
  for (const auto& l : lines)
    if (l.failed) return true;
  return false;
}

Result<ReporterConfig> LoadReporterConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Fail(ErrorCode::kNotFound, "cannot read " + path);
  auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  auto f = CA_TRY(pki::JsonFields::Of(j, path, ErrorCode::kInvalidArgument));
  ReporterConfig c;
  const nlohmann::json* audit = CA_TRY(f.Object("audit_files"));
  auto a = CA_TRY(pki::JsonFields::Of(*audit, path + ": audit_files", ErrorCode::kInvalidArgument));
  c.audit.engine = CA_TRY(a.OptionalString("engine")).value_or("");
  c.audit.gateway = CA_TRY(a.OptionalString("gateway")).value_or("");
  c.audit.ra = CA_TRY(a.OptionalString("ra")).value_or("");
  c.audit.gateway_staging = CA_TRY(a.OptionalString("gateway_staging")).value_or("");
  CA_TRY_STATUS(a.RefuseUnknown());
  c.policy_store = CA_TRY(f.String("policy_store"));
  c.state_dir = CA_TRY(f.String("state_dir"));
  c.report_dir = CA_TRY(f.String("report_dir"));
  f.MarkRead("smtp");  // absent or null: files only
  if (auto it = j.find("smtp"); it != j.end() && !it->is_null())
    c.smtp = CA_TRY(mail::SmtpConfigFromJson(*it));
  c.expiry_notice_days = kDefaultExpiryNoticeDays;
  if (const nlohmann::json* days = CA_TRY(f.OptionalArray("expiry_notice_days"))) {
    c.expiry_notice_days.clear();
    for (const auto& d : *days) {
      if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > 365)
        return Fail(ErrorCode::kInvalidArgument,
                    path + ": expiry_notice_days holds whole days 1..365");
      c.expiry_notice_days.push_back(d.get<int>());
    }
  }
  CA_TRY_STATUS(f.RefuseUnknown());
  return c;
}

Result<ReportDelivery> SendReportNow(const AccountReport& report, const std::string& config_path) {
  auto config = CA_TRY(LoadReporterConfig(config_path));
  if (!config.smtp)
    return Fail(ErrorCode::kFailedPrecondition, config_path + " names no SMTP relay (\"smtp\")");
  auto sender = CA_TRY(mail::SmtpSender::Create(*config.smtp));
  SendMail send = [&sender](const mail::Message& m) {
    return sender.Send(m, pki::ToUnix(pki::Now()));
  };
  return DeliverReport(report, "", send);
}

Result<RunSummary> RunReporter(const ReporterConfig& config, int64_t now) {
  SendMail send;
  std::optional<mail::SmtpSender> sender;
  if (config.smtp) {
    sender.emplace(CA_TRY(mail::SmtpSender::Create(*config.smtp)));
    send = [&sender](const mail::Message& m) { return sender->Send(m, pki::ToUnix(pki::Now())); };
  }
  auto state = CA_TRY(ReporterState::Open(config.state_dir));
  auto policy = CA_TRY(profiles::policy::PolicyStore::OpenReadOnly(config.policy_store));
  auto snapshot = CA_TRY(policy.Snapshot());
  auto ledger = CA_TRY(Ledger::Open(config.audit));
  CA_TRY(ledger.Refresh());  // kCorrupt on a broken chain: nothing is sent from a trail that does
                             // not verify
  Run run(config, state, send, now);
  for (const auto& account : snapshot.ExternalAccounts()) {
    AccountSummary summary = CA_TRY(LoadAccountSummary(snapshot, account.kid, now));
    AccountHistory history = ledger.History(account.kid);
    CA_TRY_STATUS(run.Report(account, summary, history));
    CA_TRY_STATUS(run.Notices(summary, history));
  }
  return run.Take();
}

}  // namespace ca::reports
