// One account's report delivered: an HTML mail with the CSV attached, sent to the addresses among
// the account's contacts, and the same HTML and CSV written to a directory for operators. Used by
// ca-report (the timer) and `ca-ra report --send` alike.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "reports/account_report.h"
#include "reports/expiry_notices.h"
#include "reports/mail/message.h"

namespace ca::reports {

// Subject "Certificate report <since> .. <until>: <organization>", the HTML body (RenderHtml) and
// the CSV (RenderCsv) attached as "<ReportFileStem>.csv" (reports/report_files.h).
mail::Message BuildReportMessage(const AccountReport& report, std::vector<std::string> to);

// DIR/<kid>/, created when missing: where an account's reports and notices are kept for operators.
Result<std::string> AccountDir(const std::string& dir, const std::string& kid);

// Writes an expiry notice's HTML as DIR/<kid>/<name>.html; returns the path.
Result<std::string> WriteNoticeFile(const std::string& dir, const std::string& kid,
                                    const std::string& name, const std::string& html);

enum class DeliveryResult { kSent, kFailed, kFiled };

struct ReportDelivery {
  DeliveryResult result = DeliveryResult::kFiled;
  std::vector<std::string> recipients;
  std::vector<std::string> files;  // the operator's copy, when a directory was given
  std::string error;               // kFailed: the relay's answer
  std::string filed_reason;        // kFiled: why no mail went out
};

// Writes the operator's copy to DIR/<kid>/ (WriteReportFiles; skipped when `dir` is empty), then
// sends the mail when `send` is set and the contacts hold an address.
Result<ReportDelivery> DeliverReport(const AccountReport& report, const std::string& dir,
                                     const SendMail& send);

}  // namespace ca::reports
