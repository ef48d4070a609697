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
// the CSV (RenderCsv) as "report-<kid>-<since>-<until>.csv".
mail::Message BuildReportMessage(const AccountReport& report, std::vector<std::string> to);

// Writes DIR/<kid>/report-<since>-<until>.{html,csv} (the directory is created); returns the
// paths written. `stem` names the pair ("report" or "expiry-notice").
Result<std::vector<std::string>> WriteOperatorCopy(const std::string& dir, const std::string& kid,
                                                   const std::string& name, const std::string& html,
                                                   const std::string& csv);

enum class DeliveryResult { kSent, kFailed, kFiled };

struct ReportDelivery {
  DeliveryResult result = DeliveryResult::kFiled;
  std::vector<std::string> recipients;
  std::vector<std::string> files;  // the operator's copy, when a directory was given
  std::string error;               // kFailed: the relay's answer
  std::string filed_reason;        // kFiled: why no mail went out
};

// Writes the operator's copy to `dir` (skipped when empty), then sends the mail when `send` is
// set and the contacts hold an address.
Result<ReportDelivery> DeliverReport(const AccountReport& report, const std::string& dir,
                                     const SendMail& send);

}  // namespace ca::reports
