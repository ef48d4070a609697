// TCP (and TLS over TCP) connections to challenge responders, every step bounded by a deadline.
// TLS here never verifies the peer: http-01 redirects to https are followed without checking the
// certificate (operator document), and tls-alpn-01 inspects the certificate itself.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/openssl.h"
#include "common/result.h"

namespace ca::gateway::validation {

using Clock = std::chrono::steady_clock;

using SslCtxPtr = ossl::Owned<SSL_CTX, SSL_CTX_free>;
using SslPtr = ossl::Owned<SSL, SSL_free>;

// Errors: kIo for socket trouble and timeouts ("connection refused", "timed out"), kCrypto for TLS.
class Connection {
 public:
  // Connects to ip:port; binds to source_ip first when it is not empty. Waits at most
  // connect_timeout and never past deadline.
  static Result<Connection> Open(const std::string& ip, uint16_t port, const std::string& source_ip,
                                 std::chrono::milliseconds connect_timeout,
                                 Clock::time_point deadline);

  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // TLS 1.2+ handshake with SNI (if not empty) and ALPN protocol (if not empty); no verification.
  Status StartTls(const std::string& sni, std::string_view alpn, Clock::time_point deadline);

  Status WriteAll(std::string_view data, Clock::time_point deadline);
  // Reads what is available (blocking until something is or the deadline passes); 0 means EOF.
  Result<size_t> Read(std::span<char> buffer, Clock::time_point deadline);

  SSL* ssl() const { return ssl_.get(); }
  const std::string& peer() const { return peer_; }

 private:
  Connection() = default;
  Status WaitFor(short events, Clock::time_point deadline, std::string_view what);
  Status SslWait(int ssl_result, Clock::time_point deadline, std::string_view what);

  int fd_ = -1;
  std::string peer_;  // "ip:port" for messages
  SslCtxPtr ctx_;
  SslPtr ssl_;
};

}  // namespace ca::gateway::validation
