#include "reports/mail/message.h"

#include <ctime>

#include "common/encoding.h"
#include "reports/mail/address.h"

namespace ca::reports::mail {
namespace {

bool IsPrintableAscii(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

bool IsSafeToken(std::string_view s, std::string_view extra) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              extra.find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// A display name that can go into a header unquoted: atext and spaces only.
bool IsPlainPhrase(std::string_view s) {
  return IsSafeToken(s, " !#$%&'*+-/=?^_`{|}~");
}

}  // namespace

Result<Mailbox> ParseMailbox(std::string_view text) {
  auto address = ExtractAddress(text);
  if (!address)
    return Fail(ErrorCode::kInvalidArgument, "'" + std::string(text) + "' is not a mail address");
  Mailbox m;
  m.address = *address;
  size_t open = text.rfind('<');
  if (open != std::string_view::npos) {
    std::string_view name = text.substr(0, open);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
      name = name.substr(1, name.size() - 2);
    if (name.find_first_of("\r\n") != std::string_view::npos)
      return Fail(ErrorCode::kInvalidArgument, "the sender's name has a line break");
    m.display_name = std::string(name);
  }
  return m;
}

Status CheckMessage(const Message& message) {
  if (message.to.empty()) return Fail(ErrorCode::kInvalidArgument, "the message has no recipient");
  for (const auto& to : message.to) {
    if (!IsAddress(to))
      return Fail(ErrorCode::kInvalidArgument, "'" + to + "' is not a mail address");
  }
  if (message.subject.find_first_of("\r\n") != std::string::npos)
    return Fail(ErrorCode::kInvalidArgument, "the subject has a line break");
  for (const auto& a : message.attachments) {
    if (!IsSafeToken(a.name, "._-") || a.name.front() == '.')
      return Fail(ErrorCode::kInvalidArgument,
                  "attachment name '" + a.name + "' is not [A-Za-z0-9._-]");
    if (!IsSafeToken(a.mime_type, "/.+-; ="))
      return Fail(ErrorCode::kInvalidArgument,
                  "attachment type '" + a.mime_type + "' is not a MIME type");
  }
  return Ok();
}

std::string FormatMailDate(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string NewMessageId(const Mailbox& from) {
  std::string domain = from.address.substr(from.address.rfind('@') + 1);
  return "<" + HexEncode(RandomBytes(16)) + "@" + domain + ">";
}

std::string EncodeHeaderText(std::string_view text) {
  if (IsPrintableAscii(text)) return std::string(text);
  // RFC 2047 §2: an encoded word is at most 75 characters; 45 bytes of UTF-8 give 60 base64
  // characters plus the 12 of "=?UTF-8?B?" and "?=". Words are split between characters only.
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = std::min(text.size(), i + 45);
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    if (!out.empty()) out += " ";  // one line: libcurl sends each header entry as given
    out += "=?UTF-8?B?" + Base64Encode(AsBytes(text.substr(i, end - i))) + "?=";
    i = end;
  }
  return out;
}

std::vector<std::string> BuildHeaders(const Message& message, const Mailbox& from, int64_t now,
                                      std::string_view message_id) {
  std::string from_header = "From: ";
  if (from.display_name.empty()) {
    from_header += from.address;
  } else if (IsPlainPhrase(from.display_name)) {
    from_header += from.display_name + " <" + from.address + ">";
  } else if (IsPrintableAscii(from.display_name)) {  // a quoted-string (RFC 5322 §3.2.4)
    std::string quoted;
    for (char c : from.display_name)
      quoted += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    from_header += "\"" + quoted + "\" <" + from.address + ">";
  } else {
    from_header += EncodeHeaderText(from.display_name) + " <" + from.address + ">";
  }
  std::string to = "To: ";
  for (size_t i = 0; i < message.to.size(); ++i) to += (i ? ", " : "") + message.to[i];
  return {"Date: " + FormatMailDate(now), "Message-ID: " + std::string(message_id), from_header, to,
          "Subject: " + EncodeHeaderText(message.subject)};
}

}  // namespace ca::reports::mail
