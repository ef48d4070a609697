// Test and benchmark support: a complete engine setup on a SoftHSM token (intermediate RSA-3072
// and OCSP signer P-256 generated in the token, certified by a software test root), a policy
// store, channel credentials and a config file; starts the real ca-engine binary and stops it by
// PID.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/openssl.h"
#include "engine/api/client.h"
#include "engine/testing/engine_fixture.h"
#include "hsm/testing/softhsm_fixture.h"
#include "hsm/token.h"

namespace ca::engine::testing {

class EngineSetup {
 public:
  // Everything but the process: token, keys, certificates, policy store, credentials, config.
  static Result<std::unique_ptr<EngineSetup>> Create(const std::string& engine_binary);
  ~EngineSetup();

  // Starts ca-engine with extra environment variables and waits until it answers.
  Status Start(const std::map<std::string, std::string>& env = {});
  // SIGTERM and wait; returns the wait status.
  int Stop();
  // Waits for the process to end by itself (crash hook); returns the wait status.
  int WaitExit(int timeout_ms);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  Status SendSignal(int sig) const;

  Result<engine::api::EngineClient> Client(size_t max_connections = 4) const;
  // What a client of this engine (a ca-gateway, say) connects with: socket, client credentials,
  // the engine's certificate fingerprint.
  engine::api::EngineClientOptions ClientOptions() const;

  const TempDir& dir() const { return dir_; }
  const std::string& kid() const { return world_.kid; }
  PolicyWorld& world() { return world_; }
  const X509* intermediate() const { return intermediate_.get(); }
  std::string store_dir() const { return dir_.Sub("production-ca"); }
  std::string log_path() const { return dir_.Sub("engine.log"); }
  hsm::Token& token() { return *token_; }
  std::shared_ptr<hsm::HsmKey> intermediate_key() { return intermediate_key_; }
  std::shared_ptr<hsm::HsmKey> ocsp_key() { return ocsp_key_; }
  // Rewrites engine.json's hsm.pool_size (the number of HSM sessions, hence of concurrent
  // signatures) for the next Start().
  Status SetHsmPoolSize(size_t sessions);
  // Merges a JSON object's fields into engine.json's production instance (crl_shards, crl_url,
  // ...) for the next Start().
  Status MergeInstanceConfig(std::string_view json_object);
  // Merges a JSON object's fields into engine.json's top level (policy_store, ...) for the next
  // Start().
  Status MergeConfig(std::string_view json_object);
  // The EAB MAC wrapping key, made the operator's way (`ca-engine make-mac-wrap-key`) in the token
  // as `label` and named in engine.json's mac_wrap_key_label for the next Start(); returns its
  // public half, the key the RA wraps MAC keys to.
  Result<ossl::Pkey> MakeMacWrapKey(const std::string& label = "mac-wrap");

 private:
  EngineSetup() = default;
  // Reads engine.json, lets `edit` change it, writes it back.
  Status EditConfig(const std::function<Status(nlohmann::json&)>& edit);
  std::string binary_;
  TempDir dir_;
  std::unique_ptr<hsm::testing::SoftHsmFixture> hsm_;
  std::shared_ptr<hsm::Token> token_;
  std::shared_ptr<hsm::HsmKey> intermediate_key_;
  std::shared_ptr<hsm::HsmKey> ocsp_key_;
  PolicyWorld world_;
  ossl::X509Ptr intermediate_;
  std::string engine_fp_;
  pid_t pid_ = -1;
};

}  // namespace ca::engine::testing
