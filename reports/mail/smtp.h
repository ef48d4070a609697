// Sends a Message (reports/mail/message.h) through an SMTP relay with libcurl: STARTTLS required
// on smtp:// (CURLUSESSL_ALL: the relay must offer it, or nothing is sent), implicit TLS on
// smtps://, the relay's certificate verified against ca_file (or the system store), optional
// AUTH with a password read from a file (common/secret.h: never argv, never logged).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "common/secret.h"
#include "reports/mail/message.h"

namespace ca::reports::mail {

struct SmtpConfig {
  std::string url;            // smtp://host[:port] (STARTTLS) or smtps://host[:port]
  std::string from;           // "reports@ca.example" or "ACME CA <reports@ca.example>"
  std::string ca_file;        // PEM bundle that verifies the relay; empty: the system store
  std::string username;       // empty: no AUTH
  std::string password_file;  // required with username (mode 0400/0600)
  long timeout_seconds = 60;  // connect + whole transfer
};

// The "smtp" object of a configuration: {url, from, ca_file, username, password_file,
// timeout_seconds}; unknown fields are refused.
Result<SmtpConfig> SmtpConfigFromJson(const nlohmann::json& j);

class SmtpSender {
 public:
  // Checks the URL scheme and the sender, reads the password file. No connection is made.
  static Result<SmtpSender> Create(SmtpConfig config);

  // One SMTP transaction. kInvalidArgument for a message CheckMessage refuses, kUnavailable
  // when the relay cannot be reached or refuses (the message names the relay's last reply).
  Status Send(const Message& message, int64_t now) const;

  const SmtpConfig& config() const { return config_; }

 private:
  SmtpSender(SmtpConfig config, Mailbox from, Secret password)
      : config_(std::move(config)), from_(std::move(from)), password_(std::move(password)) {}
  SmtpConfig config_;
  Mailbox from_;
  Secret password_;
};

}  // namespace ca::reports::mail
