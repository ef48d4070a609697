// Client of the signing engine for the gateway and the operator CLIs. Thread-safe: concurrent
// calls use a small pool of authenticated connections (one request in flight per connection).
// With several endpoints (a pair, issue 20: this node's engine socket and the peer's
// tcp:host:port), each call starts at the endpoint that last answered and moves to the next when
// the connection fails or the engine answers that it is a standby (kUnavailable, detail "engine
// standby..."). A retried request is safe: an IssueRequest keeps its request_id and the CA store
// records one reservation per order / request_id (engine/issuance.cpp), revocation of a revoked
// certificate is refused as such, and the other requests only read.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "engine/api/contract.h"

namespace ca::engine::api {

struct EngineClientOptions {
  std::string
      socket_path;  // one endpoint (a Unix socket path or tcp:host:port), if `endpoints` is empty
  std::vector<std::string> endpoints;  // tried in order from the last that answered (see above)
  std::string client_cert_path;        // PEM, made by `ca-engine make-channel-credentials`
  std::string client_key_path;         // PEM, 0400
  std::string engine_fingerprint;      // pinned SHA-256 of the engine's certificate (hex)
  std::vector<std::string> more_engine_fingerprints;  // the pair's other engine, if its own cert
  size_t max_connections = 4;  // pool size; calls beyond it wait for a free connection
  int timeout_ms = 60000;      // per call (connect + handshake + answer)
};

class EngineClient {
 public:
  // Loads the credentials and opens (and authenticates) a first connection to the first endpoint
  // that accepts one, so that a wrong pin or an absent engine is reported here.
  static Result<EngineClient> Connect(const std::string& socket_path,
                                      const std::string& client_cert_path,
                                      const std::string& client_key_path,
                                      const std::string& engine_fingerprint);
  static Result<EngineClient> Connect(const EngineClientOptions& options);

  EngineClient(EngineClient&&) noexcept;
  EngineClient& operator=(EngineClient&&) noexcept;
  ~EngineClient();

  // Transport failures (engine down, channel broken, timeout) are errors (kUnavailable); refusals
  // by the engine are an EngineError alternative of the Response. A call whose connection broke
  // is retried on the next endpoint only (never twice on one): with one endpoint, not at all.
  // When every endpoint is a standby, the last standby answer is returned.
  Result<Response> Call(const Request& request);

  // The endpoint the next call starts at (tests, logs).
  std::string current_endpoint() const;
  Result<Response> Issue(const IssueRequest& request) { return Call(request); }
  Result<Response> Revoke(const RevokeRequest& request) { return Call(request); }
  Result<Response> RevokeAllForAccount(const RevokeAllForAccountRequest& request) {
    return Call(request);
  }
  Result<Response> GetCertificate(const GetCertificateRequest& request) { return Call(request); }

  // Sends raw bytes as one frame and returns the raw answer frame: for channel tests only.
  Result<std::string> CallRawForTest(std::string_view payload);

  // The prefix of a standby engine's refusal detail (engine/api/contract.h kStandbyDetailPrefix).
  static bool IsStandbyAnswer(const Response& response);

 private:
  struct Impl;
  explicit EngineClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ca::engine::api
