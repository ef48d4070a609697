#include "reports/report_delivery.h"

#include <filesystem>
#include <fstream>

#include "reports/mail/address.h"
#include "reports/render.h"
#include "reports/report_files.h"
#include "reports/schedule.h"

namespace ca::reports {

mail::Message BuildReportMessage(const AccountReport& report, std::vector<std::string> to) {
  std::string who =
      report.account.organization.empty() ? report.account.kid : report.account.organization;
  return mail::Message{.subject = "Certificate report " + UtcDate(report.since) + " .. " +
                                  UtcDate(report.until) + ": " + who,
                       .to = std::move(to),
                       .html = RenderHtml(report),
                       .attachments = {{.name = ReportFileStem(report) + ".csv",
                                        .mime_type = "text/csv; charset=utf-8",
                                        .bytes = RenderCsv(report)}}};
}

Result<std::string> AccountDir(const std::string& dir, const std::string& kid) {
  if (kid.empty() || kid.find('/') != std::string::npos || kid.starts_with("."))
    return Fail(ErrorCode::kInvalidArgument,
                "external account id '" + kid + "' cannot name a directory");
  std::filesystem::path base = std::filesystem::path(dir) / kid;
  std::error_code ec;
  std::filesystem::create_directories(base, ec);
  if (ec) return Fail(ErrorCode::kIo, "cannot create " + base.string() + ": " + ec.message());
  return base.string();
}

Result<std::string> WriteNoticeFile(const std::string& dir, const std::string& kid,
                                    const std::string& name, const std::string& html) {
  std::string account_dir = CA_TRY(AccountDir(dir, kid));
  std::filesystem::path path = std::filesystem::path(account_dir) / (name + ".html");
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(html.data(), static_cast<std::streamsize>(html.size()));
    if (!out.flush()) return Fail(ErrorCode::kIo, "cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Fail(ErrorCode::kIo, "cannot rename " + tmp.string() + ": " + ec.message());
  return path.string();
}

Result<ReportDelivery> DeliverReport(const AccountReport& report, const std::string& dir,
                                     const SendMail& send) {
  ReportDelivery out;
  out.recipients = mail::RecipientAddresses(report.account.contacts);
  if (!dir.empty()) {
    std::string account_dir = CA_TRY(AccountDir(dir, report.account.kid));
    ReportFiles files = CA_TRY(WriteReportFiles(report, account_dir));
    out.files = {files.html, files.csv};
  }
  if (out.recipients.empty()) {
    out.filed_reason = "no mail address among the account's contacts";
    return out;
  }
  if (!send) {
    out.filed_reason = "no SMTP relay configured";
    return out;
  }
  if (auto sent = send(BuildReportMessage(report, out.recipients)); !sent) {
    out.result = DeliveryResult::kFailed;
    out.error = sent.error().message;
    return out;
  }
  out.result = DeliveryResult::kSent;
  return out;
}

}  // namespace ca::reports
