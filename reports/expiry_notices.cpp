#include "reports/expiry_notices.h"

#include <algorithm>

#include "reports/mail/address.h"
#include "reports/render.h"
#include "reports/schedule.h"

namespace ca::reports {
namespace {

constexpr int64_t kDay = 86400;

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string CertificateRow(const ExpiryDue& d, int64_t now) {
  const auto& c = d.certificate;
  int64_t days_left = (c.not_after - now) / kDay;
  return "<tr><td>" + HtmlEscape(JoinNames(c.names)) + "</td><td>" + HtmlEscape(c.profile) +
         "</td><td><code>" + HtmlEscape(c.serial_hex) + "</code></td><td>" +
         HtmlEscape(UtcDate(c.not_after)) + "</td><td>" + std::to_string(days_left) +
         "</td></tr>\n";
}

}  // namespace

NoticeKey ExpiryDue::Key() const {
  return {certificate.environment, certificate.serial_hex, threshold_days};
}

std::vector<ExpiryDue> DueExpiryNotices(const AccountHistory& history,
                                        const std::vector<int>& thresholds, int64_t now) {
  std::vector<int> sorted = thresholds;
  std::ranges::sort(sorted);
  std::vector<ExpiryDue> out;
  for (const auto& cert : history.certificates) {
    if (!cert.ValidAt(now) || IsRenewed(cert, history)) continue;
    for (int days : sorted) {
      if (days > 0 && cert.not_after - now <= int64_t{days} * kDay) {
        out.push_back({cert, days});
        break;
      }
    }
  }
  return out;
}

mail::Message BuildExpiryNotice(const AccountSummary& account, const std::vector<ExpiryDue>& due,
                                std::vector<std::string> to, int64_t now) {
  std::string who = account.organization.empty() ? account.kid : account.organization;
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Certificates expiring soon"
      "</title></head><body style=\"font-family:sans-serif\">\n<h1>Certificates expiring "
      "soon</h1>\n"
      "<p>External account <code>" +
      HtmlEscape(account.kid) + "</code> (" + HtmlEscape(who) + "): " + std::to_string(due.size()) +
      " certificate(s) expire soon and no renewal for the same names has been issued. Renew them "
      "with your ACME client, or ignore this notice for names no longer in use.</p>\n"
      "<table border=\"1\" cellpadding=\"4\" style=\"border-collapse:collapse\">\n"
      "<tr><th>Names</th><th>Profile</th><th>Serial</th><th>Expires (UTC)</th><th>Days "
      "left</th></tr>\n";
  for (const auto& d : due) html += CertificateRow(d, now);
  html += "</table>\n<p>Sent by the ACME CA on " + HtmlEscape(UtcDate(now)) +
          "; each certificate is announced once per threshold.</p>\n</body></html>\n";
  return mail::Message{
      .subject = "Certificates expiring soon: " + std::to_string(due.size()) + " for " + who,
      .to = std::move(to),
      .html = std::move(html),
      .attachments = {}};
}

Result<NoticeOutcome> RunExpiryNotices(ReporterState& state, const AccountSummary& account,
                                       const AccountHistory& history,
                                       const std::vector<int>& thresholds, const SendMail& send,
                                       int64_t now) {
  NoticeOutcome out;
  std::vector<NoticeKey> unknown;
  for (auto& d : DueExpiryNotices(history, thresholds, now)) {
    NoticeMark mark = CA_TRY(state.Notice(d.Key()));
    if (mark == NoticeMark::kPending) unknown.push_back(d.Key());
    if (mark == NoticeMark::kNone) out.notified.push_back(std::move(d));
  }
  if (!unknown.empty()) {  // a run stopped between handing a mail over and recording it
    CA_TRY_STATUS(state.MarkNotices(unknown, NoticeMark::kUnknown, now));
    for (const auto& key : unknown) out.unknown.push_back(key.Text());
  }
  if (out.notified.empty()) return out;
  std::vector<NoticeKey> keys;
  for (const auto& d : out.notified) keys.push_back(d.Key());
  out.recipients = mail::RecipientAddresses(account.contacts);
  mail::Message message = BuildExpiryNotice(account, out.notified, out.recipients, now);
  out.html = message.html;
  if (out.recipients.empty() || !send) {
    CA_TRY_STATUS(state.MarkNotices(keys, NoticeMark::kFiled, now));
    out.result = NoticeResult::kFiled;
    return out;
  }
  CA_TRY_STATUS(state.MarkNotices(keys, NoticeMark::kPending, now));
  if (auto sent = send(message); !sent) {
    CA_TRY_STATUS(state.MarkNotices(keys, NoticeMark::kNone, now));
    out.result = NoticeResult::kFailed;
    out.error = sent.error().message;
    return out;
  }
  CA_TRY_STATUS(state.MarkNotices(keys, NoticeMark::kSent, now));
  out.result = NoticeResult::kSent;
  return out;
}

}  // namespace ca::reports
