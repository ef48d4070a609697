// One run of the reporter (ca-report run, started daily by acme-ca-report.timer): every external
// account's due periodic report (reports/schedule.h) and its expiry notices
// (reports/expiry_notices.h), mailed through the configured relay and written to the report
// directory for operators.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "reports/account_report.h"
#include "reports/ledger.h"
#include "reports/mail/smtp.h"
#include "reports/report_delivery.h"

namespace ca::reports {

// /etc/acme-ca/report.json:
//   {"audit_files": {"engine": F, "gateway": F, "ra": F}, "policy_store": DIR, "state_dir": DIR,
//    "report_dir": DIR, "smtp": {"url", "from", "ca_file", "username", "password_file"},
//    "expiry_notice_days": [21, 7]}
// "smtp" absent (or null): reports and notices are written to report_dir only.
struct ReporterConfig {
  AuditSources audit;
  std::string policy_store;
  std::string state_dir;
  std::string report_dir;
  std::optional<mail::SmtpConfig> smtp;
  std::vector<int> expiry_notice_days;
};

Result<ReporterConfig> LoadReporterConfig(const std::string& path);

struct RunLine {
  bool failed = false;
  std::string text;  // "sent report KID 2026-11-23..2026-11-29 to a@x", ...
};

struct RunSummary {
  std::vector<RunLine> lines;
  bool any_failed() const;
};

// `now` is the run's clock (injectable with ca-report run --now); the mails' Date header is the
// wall clock. Fails (changing nothing) when a store or an audit chain cannot be read.
Result<RunSummary> RunReporter(const ReporterConfig& config, int64_t now);

// `ca-ra report --send`: mails `report` now to the addresses among its account's contacts through
// the relay of the reporter's config (kFailedPrecondition when it names none). The reporter's
// state is not touched: the periodic report of that period still goes out on schedule.
Result<ReportDelivery> SendReportNow(const AccountReport& report, const std::string& config_path);

}  // namespace ca::reports
