// Client of the signing engine for the gateway and the operator CLIs. Thread-safe: concurrent
// calls use a small pool of authenticated connections (one request in flight per connection).
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "engine/api/contract.h"

namespace ca::engine::api {

struct EngineClientOptions {
  std::string socket_path;
  std::string client_cert_path;    // PEM, made by `ca-engine make-channel-credentials`
  std::string client_key_path;     // PEM, 0400
  std::string engine_fingerprint;  // pinned SHA-256 of the engine's certificate (hex)
  size_t max_connections = 4;      // pool size; calls beyond it wait for a free connection
  int timeout_ms = 60000;          // per call (connect + handshake + answer)
};

class EngineClient {
 public:
  // Loads the credentials and opens (and authenticates) a first connection, so that a wrong pin
  // or an absent engine is reported here.
  static Result<EngineClient> Connect(const std::string& socket_path, const std::string& client_cert_path,
                                      const std::string& client_key_path,
                                      const std::string& engine_fingerprint);
  static Result<EngineClient> Connect(const EngineClientOptions& options);

  EngineClient(EngineClient&&) noexcept;
  EngineClient& operator=(EngineClient&&) noexcept;
  ~EngineClient();

  // Transport failures (engine down, channel broken, timeout) are errors (kUnavailable); refusals
  // by the engine are an EngineError alternative of the Response. A call whose connection broke
  // is not retried automatically (an Issue retry must reuse its request_id: the caller decides).
  Result<Response> Call(const Request& request);
  Result<Response> Issue(const IssueRequest& request) { return Call(request); }
  Result<Response> Revoke(const RevokeRequest& request) { return Call(request); }
  Result<Response> RevokeAllForAccount(const RevokeAllForAccountRequest& request) { return Call(request); }
  Result<Response> GetCertificate(const GetCertificateRequest& request) { return Call(request); }

  // Sends raw bytes as one frame and returns the raw answer frame: for channel tests only.
  Result<std::string> CallRawForTest(std::string_view payload);

 private:
  struct Impl;
  explicit EngineClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ca::engine::api
