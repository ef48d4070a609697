#include "reports/report_delivery.h"

#include <filesystem>
#include <fstream>

#include "reports/mail/address.h"
#include "reports/render.h"
#include "reports/schedule.h"

namespace ca::reports {
namespace {

std::string PeriodName(const AccountReport& r) {
  return UtcDate(r.since) + "_" + UtcDate(r.until);
}

Status WriteFile(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) return Fail(ErrorCode::kIo, "cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Fail(ErrorCode::kIo, "cannot rename " + tmp.string() + ": " + ec.message());
  return Ok();
}

}  // namespace

mail::Message BuildReportMessage(const AccountReport& report, std::vector<std::string> to) {
  std::string who =
      report.account.organization.empty() ? report.account.kid : report.account.organization;
  return mail::Message{
      .subject = "Certificate report " + UtcDate(report.since) + " .. " + UtcDate(report.until) +
                 ": " + who,
      .to = std::move(to),
      .html = RenderHtml(report),
      .attachments = {{.name = "report-" + report.account.kid + "-" + PeriodName(report) + ".csv",
                       .mime_type = "text/csv; charset=utf-8",
                       .bytes = RenderCsv(report)}}};
}

Result<std::vector<std::string>> WriteOperatorCopy(const std::string& dir, const std::string& kid,
                                                   const std::string& name, const std::string& html,
                                                   const std::string& csv) {
  if (kid.empty() || kid.find('/') != std::string::npos || kid.starts_with("."))
    return Fail(ErrorCode::kInvalidArgument,
                "external account id '" + kid + "' cannot name a directory");
  std::filesystem::path base = std::filesystem::path(dir) / kid;
  std::error_code ec;
  std::filesystem::create_directories(base, ec);
  if (ec) return Fail(ErrorCode::kIo, "cannot create " + base.string() + ": " + ec.message());
  std::vector<std::string> written;
  for (auto [ext, bytes] : {std::pair{".html", &html}, std::pair{".csv", &csv}}) {
    if (bytes->empty()) continue;
    auto path = base / (name + ext);
    CA_TRY_STATUS(WriteFile(path, *bytes));
    written.push_back(path.string());
  }
  return written;
}

Result<ReportDelivery> DeliverReport(const AccountReport& report, const std::string& dir,
                                     const SendMail& send) {
  ReportDelivery out;
  out.recipients = mail::RecipientAddresses(report.account.contacts);
  mail::Message message = BuildReportMessage(report, out.recipients);
  if (!dir.empty()) {
    out.files = CA_TRY(WriteOperatorCopy(dir, report.account.kid, "report-" + PeriodName(report),
                                         message.html, message.attachments[0].bytes));
  }
  if (out.recipients.empty()) {
    out.filed_reason = "no mail address among the account's contacts";
    return out;
  }
  if (!send) {
    out.filed_reason = "no SMTP relay configured";
    return out;
  }
  if (auto sent = send(message); !sent) {
    out.result = DeliveryResult::kFailed;
    out.error = sent.error().message;
    return out;
  }
  out.result = DeliveryResult::kSent;
  return out;
}

}  // namespace ca::reports
