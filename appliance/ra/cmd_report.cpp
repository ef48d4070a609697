// ca-ra report: one external account's report for a period (ANSSI R49), built by reports/ from the
// policy store and the hash-chained audit files, written as HTML and CSV for the operator, with its
// counts on the terminal. (Delivery by mail reuses the same report: reports/report_source.h.)
#include <iostream>
#include <map>

#include "appliance/ra/cli.h"
#include "reports/report_files.h"
#include "reports/report_source.h"
#include "reports/reporter.h"

namespace ca::appliance::ra {

using nlohmann::json;

namespace {

// --since/--until as profiles::policy::ParseTime reads them; a bare date as --until means the end
// of that day (a period "2026-11-01 .. 2026-11-30" includes November 30).
int64_t PeriodBound(const Args& a, const char* option, bool end) {
  auto text = a.Get(option);
  if (!text) throw UsageError{std::string("report needs ") + option + " DATE"};
  int64_t t = Must(profiles::policy::ParseTime(*text));
  bool bare_date = text->size() == 10 && text->find('T') == std::string::npos && (*text)[0] != '@';
  return end && bare_date ? t + 86399 : t;
}

std::string Counts(const std::map<std::string, size_t>& by) {
  std::string out;
  for (const auto& [key, n] : by)
    out += (out.empty() ? "" : ", ") + (key.empty() ? "(none)" : key) + ": " + std::to_string(n);
  return out.empty() ? "" : " (" + out + ")";
}

std::string SummaryText(const reports::AccountReport& r, const reports::ReportFiles& files) {
  std::string text = "report of " + r.account.kid + " (" + r.account.organization + ", " +
                     r.account.status + ") from " + profiles::policy::FormatTime(r.since) + " to " +
                     profiles::policy::FormatTime(r.until) + "\n";
  text += "  issued        " + std::to_string(r.issued) + Counts(r.issued_by_profile) + "\n";
  text += "  revoked       " + std::to_string(r.revoked) + Counts(r.revoked_by_reason) + "\n";
  text += "  valid         " + std::to_string(r.valid_now) + " at the end of the period\n";
  text += "  expiring      " + std::to_string(r.expiring_soon.size()) +
          " within 30 days, not renewed\n";
  text += "  failures      " + std::to_string(r.validation_failures) + " validation, " +
          std::to_string(r.rate_limit_refusals) + " rate limit, " +
          std::to_string(r.other_refusals) + " other refusals\n";
  text += "  changes       " + std::to_string(r.changes.size()) + "\n";
  if (r.staging.Any()) {  // test certificates (CA-8): never in the production counts above
    text += "  staging       " + std::to_string(r.staging.issued) + " issued, " +
            std::to_string(r.staging.revoked) + " revoked, " + std::to_string(r.staging.valid_now) +
            " valid, " + std::to_string(r.staging.failures) +
            " failures (test certificates, not counted above)\n";
  }
  constexpr size_t kShown = 8;  // one screen: the rest is in the files
  for (size_t i = 0; i < r.changes.size() && i < kShown; ++i) {
    const auto& c = r.changes[i];
    text += "    " + profiles::policy::FormatTime(c.at) + "  " + c.action + "  " + c.object_id +
            "  by " + c.actor + "\n";
  }
  if (r.changes.size() > kShown)
    text += "    ... " + std::to_string(r.changes.size() - kShown) + " more in the files\n";
  text += "wrote " + files.html + "\n  and " + files.csv + "\n";
  return text;
}

}  // namespace

int Cli::Report() {
  const std::string kid = a_.Pos(1, "KID (report KID --since DATE --until DATE)");
  NoExtraArgs(2);
  const int64_t since = PeriodBound(a_, "--since", false);
  const int64_t until = PeriodBound(a_, "--until", true);
  if (since > until) throw CommandError{"--since is after --until"};
  if (audit_log_.empty() || engine_audit_log_.empty() || gateway_audit_log_.empty()) {
    throw CommandError{
        "report reads the three audit files: give audit_log, engine_audit_log and "
        "gateway_audit_log in the config (or --audit-log, --engine-audit-log, "
        "--gateway-audit-log)"};
  }
  const std::string out_dir = a_.Get("--out").value_or(".");
  reports::AuditSources sources{engine_audit_log_, gateway_audit_log_, audit_log_,
                                staging_gateway_audit_log_};
  reports::AccountReport report =
      Must(reports::BuildReportFromStores(Store(false), sources, kid, since, until, Now()));
  reports::ReportFiles files = Must(reports::WriteReportFiles(report, out_dir));
  json j = reports::ReportToJson(report);
  j["files"] = {{"html", files.html}, {"csv", files.csv}};
  std::string text = SummaryText(report, files);
  int rc = a_.Flag("--send") ? Send(report, j, text) : 0;
  Print(j, text);
  return rc;
}

// --send: the same report mailed now through the reporter's relay (reports/reporter.h), as the
// timer would; the timer's own schedule is not changed.
int Cli::Send(const reports::AccountReport& report, json& j, std::string& text) {
  const std::string config =
      a_.Get("--report-config")
          .value_or(report_config_.empty() ? "/etc/acme-ca/report.json" : report_config_);
  reports::ReportDelivery d = Must(reports::SendReportNow(report, config));
  std::string to;
  for (const auto& r : d.recipients) to += (to.empty() ? "" : ", ") + r;
  j["mail"] = {{"recipients", d.recipients},
               {"result", d.result == reports::DeliveryResult::kSent     ? "sent"
                          : d.result == reports::DeliveryResult::kFailed ? "failed"
                                                                         : "not sent"},
               {"detail", d.result == reports::DeliveryResult::kFailed ? d.error : d.filed_reason}};
  if (d.result == reports::DeliveryResult::kSent) text += "mailed to " + to + "\n";
  if (d.result == reports::DeliveryResult::kFiled) text += "not mailed: " + d.filed_reason + "\n";
  if (d.result == reports::DeliveryResult::kFailed) {
    text += "mail to " + to + " FAILED: " + d.error + "\n";
    return 1;
  }
  return 0;
}

}  // namespace ca::appliance::ra
