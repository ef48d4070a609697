// The authenticated channel between the gateway (and operator CLIs) and the engine (CA-3): a Unix
// socket (or, for the peer node's gateway in a pair, a TCP connection: issue 20) carrying mutual
// TLS 1.3, each side pinning the other's certificate by its SHA-256
// fingerprint (no CA, no name checks: the pin is the identity). Messages are frames: a 4-byte
// big-endian length followed by that many bytes of JSON (engine/api/contract.h wire form). Right
// after the handshake the server sends one empty frame ("ready"): in TLS 1.3 only that tells the
// client its certificate was accepted.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"

namespace ca::engine::api {

inline constexpr size_t kMaxFrameSize = 256 * 1024;

using SslCtxPtr = ossl::Owned<SSL_CTX, SSL_CTX_free>;
using SslPtr = ossl::Owned<SSL, SSL_free>;

// One side's TLS identity and the peer certificates it accepts.
struct ChannelIdentity {
  std::string cert_path;                        // PEM certificate (self-signed, made at setup)
  std::string key_path;                         // PEM private key, mode 0400
  std::vector<std::string> pinned_peer_sha256;  // hex SHA-256 of the peer certificates' DER
};

// "ab:CD:..." or "abcd..." → "abcd..." (64 lower-case hex digits), else kInvalidArgument.
Result<std::string> NormalizeFingerprint(std::string_view text);

// SHA-256 of the certificate's DER, lower-case hex.
Result<std::string> CertificateFingerprint(const X509* cert);
Result<std::string> CertificateFileFingerprint(const std::string& pem_path);

// A TLS 1.3-only context that presents the identity and accepts only pinned peer certificates
// (the peer must present one).
Result<SslCtxPtr> MakeChannelContext(const ChannelIdentity& identity, bool server);

// An engine endpoint as configured: a Unix socket path, or "tcp:<host>:<port>" ("tcp:[v6]:port").
inline constexpr std::string_view kTcpEndpointPrefix = "tcp:";
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
// "host:port" or "[v6 address]:port" (port 1..65535; 0 too when `allow_port_zero`, for tests).
Result<HostPort> ParseHostPort(std::string_view text, bool allow_port_zero = false);
// Checks a configured endpoint: an absolute socket path or a valid "tcp:host:port".
Status CheckEndpoint(std::string_view endpoint);

// A connected, handshaken TLS session over a stream socket it owns.
class TlsConnection {
 public:
  // Client side: connects to the endpoint (a Unix socket path or "tcp:host:port"; the connect
  // itself is bounded by the timeout), performs the handshake and waits for "ready"
  // (kPermissionDenied when the engine refuses the client certificate). kUnavailable when nothing
  // answers at the endpoint.
  static Result<TlsConnection> Connect(const std::string& endpoint, SSL_CTX* ctx, int timeout_ms);
  // Server side: takes ownership of an accepted fd, performs the handshake and sends "ready".
  static Result<TlsConnection> Accept(int fd, SSL_CTX* ctx, int handshake_timeout_ms);

  TlsConnection(TlsConnection&& other) noexcept;
  TlsConnection& operator=(TlsConnection&& other) noexcept;
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;
  ~TlsConnection();

  Status WriteFrame(std::string_view payload);
  // kResourceExhausted for a frame announced larger than max_size (the connection is then
  // unusable: the caller closes it), kUnavailable when the peer closed, kIo otherwise.
  Result<std::string> ReadFrame(size_t max_size = kMaxFrameSize);
  // Sets the receive timeout (0: none) for later reads.
  Status SetReadTimeout(int timeout_ms);

  int fd() const { return fd_; }

 private:
  TlsConnection(int fd, SslPtr ssl) : fd_(fd), ssl_(std::move(ssl)) {}
  Status WriteAll(const uint8_t* data, size_t size);
  Status ReadAll(uint8_t* data, size_t size);
  void Close();

  int fd_ = -1;
  SslPtr ssl_;
};

// Writes a fresh P-256 key and self-signed certificate pair for each side of the channel into
// `dir`: engine.key/engine.crt and client.key/client.crt (keys 0400, certificates 0444), refusing
// to overwrite. Returns {engine fingerprint, client fingerprint}.
Result<std::pair<std::string, std::string>> MakeChannelCredentials(const std::string& dir);

}  // namespace ca::engine::api
