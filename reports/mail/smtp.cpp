#include "reports/mail/smtp.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "pki/json_fields.h"

namespace ca::reports::mail {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct MimeDeleter {
  void operator()(curl_mime* m) const { curl_mime_free(m); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;
using MimePtr = std::unique_ptr<curl_mime, MimeDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Status Append(SlistPtr& list, const std::string& line) {
  curl_slist* next = curl_slist_append(list.get(), line.c_str());
  if (!next) return Fail(ErrorCode::kResourceExhausted, "curl_slist_append failed");
  (void)list.release();  // curl_slist_append returns the same head once the list exists
  list.reset(next);
  return Ok();
}

// What the relay said: its reply lines (CURLINFO_HEADER_IN), the last few hundred bytes. Only
// replies are kept, never what was sent (which holds the AUTH exchange).
struct RelayTranscript {
  std::string replies;
};

int OnDebug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type != CURLINFO_HEADER_IN) return 0;
  auto* t = static_cast<RelayTranscript*>(user);
  t->replies.append(data, size);
  if (t->replies.size() > 2048) t->replies.erase(0, t->replies.size() - 2048);
  return 0;
}

std::string LastReply(const std::string& replies) {
  std::string s = replies;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

Result<MimePtr> BuildMime(CURL* curl, const Message& m) {
  MimePtr mime(curl_mime_init(curl));
  if (!mime) return Fail(ErrorCode::kResourceExhausted, "curl_mime_init failed");
  curl_mimepart* body = curl_mime_addpart(mime.get());
  if (!body || curl_mime_data(body, m.html.data(), m.html.size()) != CURLE_OK ||
      curl_mime_type(body, "text/html; charset=utf-8") != CURLE_OK ||
      curl_mime_encoder(body, "quoted-printable") != CURLE_OK)
    return Fail(ErrorCode::kInternal, "curl_mime: the HTML body part");
  for (const auto& a : m.attachments) {
    curl_mimepart* part = curl_mime_addpart(mime.get());
    if (!part || curl_mime_data(part, a.bytes.data(), a.bytes.size()) != CURLE_OK ||
        curl_mime_type(part, a.mime_type.c_str()) != CURLE_OK ||
        curl_mime_filename(part, a.name.c_str()) != CURLE_OK ||
        curl_mime_encoder(part, "base64") != CURLE_OK)
      return Fail(ErrorCode::kInternal, "curl_mime: attachment " + a.name);
  }
  return mime;
}

}  // namespace

Result<SmtpConfig> SmtpConfigFromJson(const nlohmann::json& j) {
  auto f = CA_TRY(pki::JsonFields::Of(j, "smtp", ErrorCode::kInvalidArgument));
  SmtpConfig c;
  c.url = CA_TRY(f.String("url"));
  c.from = CA_TRY(f.String("from"));
  c.ca_file = CA_TRY(f.OptionalString("ca_file")).value_or("");
  c.username = CA_TRY(f.OptionalString("username")).value_or("");
  c.password_file = CA_TRY(f.OptionalString("password_file")).value_or("");
  c.timeout_seconds = CA_TRY(f.OptionalIntIn("timeout_seconds", 1, 3600)).value_or(60);
  CA_TRY_STATUS(f.RefuseUnknown());
  return c;
}

Result<SmtpSender> SmtpSender::Create(SmtpConfig config) {
  if (!config.url.starts_with("smtp://") && !config.url.starts_with("smtps://"))
    return Fail(
        ErrorCode::kInvalidArgument,
        "smtp.url '" + config.url + "' must be smtp://host:port (STARTTLS) or smtps://host:port");
  Mailbox from = CA_TRY(ParseMailbox(config.from));
  Secret password;
  if (!config.username.empty()) {
    if (config.password_file.empty())
      return Fail(ErrorCode::kInvalidArgument, "smtp.username needs smtp.password_file");
    password = CA_TRY(ReadSecretFile(config.password_file));
  } else if (!config.password_file.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "smtp.password_file needs smtp.username");
  }
  GlobalInitOnce();
  return SmtpSender(std::move(config), std::move(from), std::move(password));
}

Status SmtpSender::Send(const Message& message, int64_t now) const {
  CA_TRY_STATUS(CheckMessage(message));
  MimePtr mime;  // declared first, freed last: after curl_easy_cleanup, as libcurl's examples do
  CurlPtr curl(curl_easy_init());
  if (!curl) return Fail(ErrorCode::kResourceExhausted, "curl_easy_init failed");
  CURL* c = curl.get();
  SlistPtr headers, recipients;
  for (const auto& line : BuildHeaders(message, from_, now, NewMessageId(from_)))
    CA_TRY_STATUS(Append(headers, line));
  for (const auto& to : message.to) CA_TRY_STATUS(Append(recipients, "<" + to + ">"));
  mime = CA_TRY(BuildMime(c, message));
  std::string mail_from = "<" + from_.address + ">";
  RelayTranscript transcript;
  char error[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(c, CURLOPT_URL, config_.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!config_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, config_.ca_file.c_str());
  if (!config_.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, config_.username.c_str());
    // Secret's storage is NUL-terminated; libcurl keeps its own copy until curl_easy_cleanup.
    curl_easy_setopt(c, CURLOPT_PASSWORD, password_.view().data());
  }
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, recipients.get());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());  // the mail's headers for SMTP
  curl_easy_setopt(c, CURLOPT_MIMEPOST, mime.get());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, config_.timeout_seconds);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, config_.timeout_seconds);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, OnDebug);
  curl_easy_setopt(c, CURLOPT_DEBUGDATA, &transcript);
  curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);  // feeds OnDebug; nothing goes to stderr

  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) return Ok();
  std::string why = error[0] ? error : curl_easy_strerror(rc);
  std::string reply = LastReply(transcript.replies);
  return Fail(ErrorCode::kUnavailable, "SMTP relay " + config_.url + ": " + why +
                                           (reply.empty() ? "" : "; relay's last reply: " + reply));
}

}  // namespace ca::reports::mail
