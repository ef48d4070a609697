#include "appliance/ra/mac_rotation_mail.h"

#include "reports/render.h"

namespace ca::appliance::ra {

using profiles::policy::ExternalAccount;
using profiles::policy::FormatTime;
using reports::HtmlEscape;

namespace {

std::string Page(const std::string& title, const std::string& body) {
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + HtmlEscape(title) +
         "</title></head><body style=\"font-family:sans-serif\">\n<h1>" + HtmlEscape(title) +
         "</h1>\n" + body + "</body></html>\n";
}

const char* const kExistingAccounts =
    "<p>ACME accounts already registered with this KeyID keep working: the MAC key is used only "
    "once, when an ACME client registers a new account (External Account Binding). Only new "
    "registrations need the new key; the current key is refused from the rotation on.</p>\n";

}  // namespace

reports::mail::Message BuildMacRotationNotice(const ExternalAccount& account, int64_t rotate_at,
                                              std::vector<std::string> to) {
  std::string when = FormatTime(rotate_at);
  std::string body =
      "<p>The MAC key (HMAC key of External Account Binding) of the ACME external account "
      "<code>" +
      HtmlEscape(account.kid) + "</code> will be replaced on <b>" + HtmlEscape(when) +
      "</b> (UTC), as the certification authority's rotation schedule requires.</p>\n"
      "<p>The new key will be mailed to this address at that time, encrypted to the RSA public "
      "key registered for this account (RSA-OAEP SHA-256): only the holder of its private key "
      "can read it. If that key is lost, ask the registration authority to register a new one "
      "(<code>ca-ra ext-account update " +
      HtmlEscape(account.kid) + " --recipient-key PEM</code>) before that date.</p>\n" +
      kExistingAccounts;
  return reports::mail::Message{
      .subject = "ACME external account " + account.kid + ": MAC key replaced on " + when,
      .to = std::move(to),
      .html = Page("MAC key rotation announced", body),
      .attachments = {}};
}

reports::mail::Message BuildRotatedMacKeyMail(const ExternalAccount& account,
                                              std::vector<std::string> to) {
  const std::string file = "mac-key-" + account.kid + ".b64";
  const std::string& sealed = account.mac_rotation.undelivered;
  std::string body =
      "<p>The MAC key of the ACME external account <code>" + HtmlEscape(account.kid) +
      "</code> was replaced on " + HtmlEscape(FormatTime(account.mac_rotation.key_issued_at)) +
      " (UTC); the previous key no longer works. The new key is attached (" + HtmlEscape(file) +
      "), encrypted to the RSA public key registered for this account. Open it with the "
      "matching private key:</p>\n<pre>base64 -d " +
      HtmlEscape(file) +
      " &gt; mac-key.bin\nopenssl pkeyutl -decrypt -inkey YOUR-PRIVATE-KEY.pem -pkeyopt "
      "rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in "
      "mac-key.bin</pre>\n<p>It prints the key (base64url) to give your ACME client with the "
      "KeyID <code>" +
      HtmlEscape(account.kid) +
      "</code> (docs/REQUESTER_GUIDE.md).</p>\n"
      "<p>Encrypted key (base64):</p>\n<pre>" +
      HtmlEscape(sealed) + "</pre>\n" + kExistingAccounts;
  return reports::mail::Message{
      .subject = "ACME external account " + account.kid + ": new MAC key (encrypted)",
      .to = std::move(to),
      .html = Page("New MAC key", body),
      .attachments = {
          {.name = file, .mime_type = "text/plain; charset=us-ascii", .bytes = sealed + "\n"}}};
}

}  // namespace ca::appliance::ra
