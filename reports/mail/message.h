// One e-mail: subject, recipients, an HTML body and attachments, and its RFC 5322 header lines.
// The MIME structure itself (multipart/mixed, the parts' encodings) is built by libcurl's
// curl_mime in smtp.cpp; what is here is plain text and testable without a relay.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ca::reports::mail {

struct Attachment {
  std::string name;       // file name shown to the reader: [A-Za-z0-9._-], e.g. "report.csv"
  std::string mime_type;  // "text/csv; charset=utf-8"
  std::string bytes;
};

struct Message {
  std::string subject;          // UTF-8; RFC 2047-encoded in the header when not ASCII
  std::vector<std::string> to;  // addr-specs (reports/mail/address.h)
  std::string html;             // UTF-8 body, sent as text/html quoted-printable
  std::vector<Attachment> attachments;
};

// A sender: "reports@ca.example" or "ACME CA <reports@ca.example>".
struct Mailbox {
  std::string display_name;  // may be empty
  std::string address;
};
Result<Mailbox> ParseMailbox(std::string_view text);

// Refuses a message that cannot be sent safely: no recipient, a recipient that is not an
// address, CR/LF in the subject, an attachment name or type that would need quoting.
Status CheckMessage(const Message& message);

// "Wed, 02 Dec 2026 13:19:34 +0000" (RFC 5322 §3.3, always UTC).
std::string FormatMailDate(int64_t unix_seconds);
// "<32 hex digits@domain of the sender>" from the CSPRNG.
std::string NewMessageId(const Mailbox& from);
// The text as is when printable ASCII, else one or more RFC 2047 "=?UTF-8?B?...?=" words.
std::string EncodeHeaderText(std::string_view text);

// Date, Message-ID, From, To and Subject header lines (without CR/LF), in that order. The
// message must pass CheckMessage.
std::vector<std::string> BuildHeaders(const Message& message, const Mailbox& from, int64_t now,
                                      std::string_view message_id);

}  // namespace ca::reports::mail
