#include "engine/testing/engine_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "crl_ocsp/testing/test_pki.h"
#include "engine/api/channel.h"
#include "profiles/policy/mac_key.h"

namespace ca::engine::testing {

Result<std::unique_ptr<EngineSetup>> EngineSetup::Create(const std::string& engine_binary) {
  std::unique_ptr<EngineSetup> s(new EngineSetup());
  s->binary_ = engine_binary;
  s->hsm_ = CA_TRY(hsm::testing::SoftHsmFixture::Create("engine-test"));
  s->token_ = CA_TRY(s->hsm_->OpenToken(2));
  s->intermediate_key_ = CA_TRY(s->token_->GenerateKeyPair(hsm::KeyType::kRsa3072, "intermediate"));
  s->ocsp_key_ = CA_TRY(s->token_->GenerateKeyPair(hsm::KeyType::kEcP256, "ocsp-signer"));
  const auto& ocsp_key = s->ocsp_key_;

  // Software root; the intermediate and OCSP signer keys live in the token.
  ossl::Pkey root_key = crl_ocsp::testing::MakeEcKey();
  auto root = crl_ocsp::testing::MakeCert({"Engine Test Root", true, false, 1, 3650}, root_key.get(), nullptr,
                                        root_key.get());
  ossl::Pkey int_pub(EVP_PKEY_dup(const_cast<EVP_PKEY*>(s->intermediate_key_->public_key())));
  s->intermediate_ = crl_ocsp::testing::MakeCert({"Engine Test Issuing CA", true, false, 2, 1825}, int_pub.get(),
                                               root.get(), root_key.get());
  ossl::Pkey int_hsm = CA_TRY(hsm::ToEvpPkey(s->intermediate_key_));
  ossl::Pkey ocsp_pub(EVP_PKEY_dup(const_cast<EVP_PKEY*>(ocsp_key->public_key())));
  auto ocsp_cert = crl_ocsp::testing::MakeCert({"Engine Test OCSP Signer", false, true, 3, 365}, ocsp_pub.get(),
                                             s->intermediate_.get(), int_hsm.get());
  const TempDir& d = s->dir_;
  CA_TRY_STATUS(ossl::WriteFileAtomic(d.Sub("root.pem"), CA_TRY(ossl::CertToPem(root.get())), 0644, false));
  CA_TRY_STATUS(ossl::WriteFileAtomic(d.Sub("intermediate.pem"), CA_TRY(ossl::CertToPem(s->intermediate_.get())),
                                      0644, false));
  CA_TRY_STATUS(ossl::WriteFileAtomic(d.Sub("ocsp.pem"), CA_TRY(ossl::CertToPem(ocsp_cert.get())), 0644, false));

  s->world_ = MakePolicyWorld(d.Sub("policy"));
  std::filesystem::create_directory(d.Sub("channel"));
  auto fps = CA_TRY(engine::api::MakeChannelCredentials(d.Sub("channel")));
  s->engine_fp_ = fps.first;

  nlohmann::json instance = {{"store", d.Sub("production-ca")},
                             {"status_store", d.Sub("production-status")},
                             {"issuer_name", "test-int"},
                             {"profiles_dir", ProfilesDir(engine::api::CaEnvironment::kProduction)},
                             {"intermediate_key_label", "intermediate"},
                             {"intermediate_cert", d.Sub("intermediate.pem")},
                             {"ocsp_key_label", "ocsp-signer"},
                             {"ocsp_cert", d.Sub("ocsp.pem")},
                             {"ocsp_url", "http://ocsp.engine.test"},
                             {"ca_issuers_url", "http://ca.engine.test/int.der"},
                             {"crl_url", "http://crl.engine.test/int.crl"}};
  nlohmann::json config = {
      {"socket_path", d.Sub("engine.sock")},
      {"allowed_peer_uids", {::getuid()}},
      {"channel",
       {{"cert", d.Sub("channel/engine.crt")}, {"key", d.Sub("channel/engine.key")}, {"client_fingerprints", {fps.second}}}},
      {"hsm", {{"module", s->hsm_->module_path()}, {"token_label", s->hsm_->token_label()},
               {"pin", "file:" + s->hsm_->user_pin_file()}, {"pool_size", 2}}},
      {"policy_store", d.Sub("policy")},
      {"test_hooks", true},
      {"instances", {{"production", instance}}}};
  CA_TRY_STATUS(ossl::WriteFileAtomic(d.Sub("engine.json"), config.dump(2), 0600, false));
  return s;
}

Status EngineSetup::EditConfig(const std::function<Status(nlohmann::json&)>& edit) {
  auto text = CA_TRY(ossl::ReadFile(dir_.Sub("engine.json")));
  nlohmann::json config = nlohmann::json::parse(text, nullptr, false);
  if (!config.is_object()) return Fail(ErrorCode::kCorrupt, "engine.json does not parse");
  CA_TRY_STATUS(edit(config));
  return ossl::WriteFileAtomic(dir_.Sub("engine.json"), config.dump(2), 0600, true);
}

Status EngineSetup::SetHsmPoolSize(size_t sessions) {
  return EditConfig([sessions](nlohmann::json& config) {
    config["hsm"]["pool_size"] = sessions;
    return Ok();
  });
}

Status EngineSetup::MergeInstanceConfig(std::string_view json_object) {
  nlohmann::json fields = nlohmann::json::parse(json_object, nullptr, false);
  if (!fields.is_object()) return Fail(ErrorCode::kInvalidArgument, "not a JSON object");
  return EditConfig([&fields](nlohmann::json& config) {
    config["instances"]["production"].update(fields);
    return Ok();
  });
}

Status EngineSetup::MergeConfig(std::string_view json_object) {
  nlohmann::json fields = nlohmann::json::parse(json_object, nullptr, false);
  if (!fields.is_object()) return Fail(ErrorCode::kInvalidArgument, "not a JSON object");
  return EditConfig([&fields](nlohmann::json& config) {
    config.update(fields);
    return Ok();
  });
}

Result<ossl::Pkey> EngineSetup::MakeMacWrapKey(const std::string& label) {
  CA_TRY_STATUS(MergeConfig(nlohmann::json{{"mac_wrap_key_label", label}}.dump()));
  std::string config = dir_.Sub("engine.json");
  std::string pem = dir_.Sub("mac-wrap.pub.pem");
  std::string log = log_path();
  pid_t pid = ::fork();
  if (pid < 0) return Fail(ErrorCode::kIo, "fork failed");
  if (pid == 0) {
    int out = ::open(pem.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (out < 0 || err < 0) ::_exit(127);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execl(binary_.c_str(), binary_.c_str(), "make-mac-wrap-key", "--config", config.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Fail(ErrorCode::kUnavailable, "ca-engine make-mac-wrap-key failed (see " + log + ")");
  return profiles::policy::LoadMacWrapPublicKey(pem);
}

EngineSetup::~EngineSetup() {
  if (pid_ > 0) Stop();
}

Status EngineSetup::Start(const std::map<std::string, std::string>& env) {
  if (pid_ > 0) return Fail(ErrorCode::kFailedPrecondition, "engine already running");
  std::string config = dir_.Sub("engine.json");
  std::string log = log_path();
  pid_t pid = ::fork();
  if (pid < 0) return Fail(ErrorCode::kIo, "fork failed");
  if (pid == 0) {
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 2);
      ::close(fd);
    }
    ::execl(binary_.c_str(), binary_.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  for (int i = 0; i < 600; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Fail(ErrorCode::kUnavailable, "ca-engine exited at start (see " + log + ")");
    }
    if (auto c = Client(1); c) return Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Stop();
  return Fail(ErrorCode::kUnavailable, "ca-engine did not start listening");
}

int EngineSetup::Stop() {
  if (pid_ <= 0) return 0;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

int EngineSetup::WaitExit(int timeout_ms) {
  if (pid_ <= 0) return 0;
  int status = 0;
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Stop();
}

Status EngineSetup::SendSignal(int sig) const {
  if (pid_ <= 0 || ::kill(pid_, sig) != 0) return Fail(ErrorCode::kFailedPrecondition, "engine not running");
  return Ok();
}

engine::api::EngineClientOptions EngineSetup::ClientOptions() const {
  engine::api::EngineClientOptions o;
  o.socket_path = dir_.Sub("engine.sock");
  o.client_cert_path = dir_.Sub("channel/client.crt");
  o.client_key_path = dir_.Sub("channel/client.key");
  o.engine_fingerprint = engine_fp_;
  return o;
}

Result<engine::api::EngineClient> EngineSetup::Client(size_t max_connections) const {
  engine::api::EngineClientOptions o = ClientOptions();
  o.max_connections = max_connections;
  o.timeout_ms = 30000;
  return engine::api::EngineClient::Connect(o);
}

}  // namespace ca::engine::testing
