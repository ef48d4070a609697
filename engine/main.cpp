// ca-engine --config FILE            the signing daemon
// ca-engine make-channel-credentials --out DIR
// ca-engine make-mac-wrap-key --config FILE   the EAB MAC wrapping key (R21), see MakeMacWrapKey
// Exit status: 0 stopped by SIGTERM/SIGINT; 2 bad usage; 77 (EX_NOPERM) the HSM refused the PIN
// (not restarted by acme-ca-engine.service: RestartPreventExitStatus=77); 1 any other failure.
#include <signal.h>
#include <sysexits.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>

#include "common/audit_log.h"
#include "common/log.h"
#include "common/memory_lock.h"
#include "common/secret.h"
#include "engine/api/channel.h"
#include "engine/config.h"
#include "engine/engine.h"
#include "engine/lease_keeper.h"
#include "engine/metrics.h"
#include "engine/recorder.h"
#include "engine/replication_watch.h"
#include "engine/timed_key.h"
#include "hsm/token.h"
#include "kv/kv.h"

namespace {

using namespace ca;

int Usage() {
  std::cerr << "usage: ca-engine --config FILE | ca-engine make-channel-credentials --out DIR | "
               "ca-engine make-mac-wrap-key --config FILE\n";
  return 2;
}

int MakeCredentials(const std::string& dir) {
  auto made = engine::api::MakeChannelCredentials(dir);
  if (!made) {
    std::cerr << "ca-engine: " << made.error().ToString() << "\n";
    return 1;
  }
  std::cout << nlohmann::json{{"engine_fingerprint", made->first},
                              {"client_fingerprint", made->second}}
                   .dump()
            << "\n";
  return 0;
}

// CA_ENGINE_CRASH_AT=<step>[:<n>] (test_hooks only): SIGKILL at the n-th time (default 1st) the
// issuance pipeline reaches <step>.
Result<engine::CrashHook> CrashHookFromEnv(bool test_hooks) {
  const char* spec = std::getenv("CA_ENGINE_CRASH_AT");
  if (spec == nullptr || *spec == '\0') return engine::CrashHook();
  if (!test_hooks)
    return Fail(ErrorCode::kInvalidArgument, "CA_ENGINE_CRASH_AT is set but test_hooks is off");
  std::string text(spec);
  std::string step = text.substr(0, text.find(':'));
  long nth = 1;
  if (auto colon = text.find(':'); colon != std::string::npos)
    nth = std::strtol(text.c_str() + colon + 1, nullptr, 10);
  bool known = false;
  for (auto s : engine::kCrashSteps) known = known || s == step;
  if (!known || nth < 1)
    return Fail(ErrorCode::kInvalidArgument, "CA_ENGINE_CRASH_AT: unknown step '" + text + "'");
  auto counter = std::make_shared<std::atomic<long>>(0);
  return engine::CrashHook([step, nth, counter](std::string_view at) {
    if (at == step && ++*counter == nth) {
      ca::log::Warn("test_crash", {{"step", step}, {"n", nth}});
      ::raise(SIGKILL);
    }
  });
}

struct LoadedInstance {
  engine::CaKeys keys;
  std::shared_ptr<hsm::Token> token;
};

// The key, its signatures timed into `metrics` (engine/timed_key.h).
Result<ossl::Pkey> HsmKeyFor(hsm::Token& token, const std::string& label, const X509* cert,
                             const std::string& what, engine::SignerKey role,
                             engine::EngineMetrics& metrics) {
  auto key = token.FindKey(label);
  if (!key) return Fail(key.error().code, what + " key '" + label + "': " + key.error().message);
  if (EVP_PKEY_eq((*key)->public_key(), X509_get0_pubkey(cert)) != 1) {
    return Fail(ErrorCode::kFailedPrecondition,
                what + " key '" + label + "' does not match the public key of its certificate");
  }
  return hsm::ToEvpPkey(engine::TimedKey(*key, role, metrics));
}

// Exit status after the token refused the PIN: acme-ca-engine.service lists it in
// RestartPreventExitStatus=, so that systemd does not spend the token's PIN retry counter.
constexpr int kExitPinRefused = EX_NOPERM;

struct Tokens {
  std::map<std::pair<std::string, std::string>, std::shared_ptr<hsm::Token>> open;
  // Set when a token refused its PIN (CKR_PIN_INCORRECT, _LOCKED, _EXPIRED...): the one message.
  std::optional<std::string> pin_refused;
};

// What an operator must do after the token refused the PIN, naming where the PIN came from
// ("file:/path" or "env:NAME"; never the PIN itself).
std::string PinRefusedMessage(const engine::InstanceConfig& ic, const Error& error) {
  const std::string& source = ic.hsm.pin;
  std::string where =
      source.starts_with("file:") ? "the PIN file " + source.substr(5) : "the PIN source " + source;
  return "HSM token '" + ic.hsm.token_label + "' refused the user PIN read from " + where + " (" +
         error.message +
         "). Not retrying: every wrong attempt counts against the token's PIN retry "
         "counter and a real HSM locks the PIN after a few. Fix " +
         where + ", check the token's retry counter (pkcs11-tool --module " + ic.hsm.module +
         " --list-token-slots; SoftHSM: softhsm2-util --show-slots), then start the engine again "
         "(systemctl start acme-ca-engine).";
}

// The token of (module, label), logged in once and shared by the instances that use it.
Result<hsm::Token*> TokenFor(const engine::InstanceConfig& ic, const std::string& env_name,
                             Tokens& tokens) {
  auto key = std::pair{ic.hsm.module, ic.hsm.token_label};
  if (!tokens.open.contains(key)) {
    auto pin = ca::LoadSecret(ic.hsm.pin);
    if (!pin) return Fail(pin.error().code, env_name + " HSM PIN: " + pin.error().ToString());
    hsm::TokenConfig tc;
    tc.module_path = ic.hsm.module;
    tc.token_label = ic.hsm.token_label;
    tc.pool_size = ic.hsm.pool_size;
    // One login per token and process start: hsm::Token never repeats a refused PIN either.
    auto token = hsm::Token::Open(tc, std::move(*pin));
    if (!token) {
      // kPermissionDenied from the token means a PIN failure (hsm/ckr.h IsPinFailure).
      if (token.error().code == ErrorCode::kPermissionDenied)
        tokens.pin_refused = PinRefusedMessage(ic, token.error());
      return Fail(token.error().code, env_name + " HSM token '" + ic.hsm.token_label +
                                          "': " + token.error().ToString());
    }
    tokens.open[key] = *token;
  }
  return tokens.open[key].get();
}

// The instance's certificates and HSM keys, each key checked against its certificate.
Result<engine::CaKeys> LoadKeys(const engine::InstanceConfig& ic, const std::string& env_name,
                                hsm::Token& token, engine::EngineMetrics& metrics) {
  engine::CaKeys keys;
  auto issuer_pem = ossl::ReadFile(ic.intermediate_cert);
  auto issuer_cert =
      issuer_pem ? ossl::CertFromPem(*issuer_pem) : std::unexpected(issuer_pem.error());
  if (!issuer_cert)
    return Fail(issuer_cert.error().code,
                env_name + " intermediate_cert: " + issuer_cert.error().ToString());
  keys.issuer_cert = std::move(*issuer_cert);
  auto chain = ossl::ReadFile(ic.chain);
  if (!chain || !ossl::CertsFromPem(*chain))
    return Fail(ErrorCode::kInvalidArgument,
                env_name + " chain: not a PEM certificate file: " + ic.chain);
  keys.chain_pem = *chain;
  auto ocsp_pem = ossl::ReadFile(ic.ocsp_cert);
  auto ocsp_cert = ocsp_pem ? ossl::CertFromPem(*ocsp_pem) : std::unexpected(ocsp_pem.error());
  if (!ocsp_cert)
    return Fail(ocsp_cert.error().code, env_name + " ocsp_cert: " + ocsp_cert.error().ToString());
  keys.ocsp_cert = std::move(*ocsp_cert);
  auto issuer_key = HsmKeyFor(token, ic.intermediate_key_label, keys.issuer_cert.get(),
                              env_name + " intermediate", engine::SignerKey::kIssuer, metrics);
  if (!issuer_key) return Fail(issuer_key.error().code, issuer_key.error().ToString());
  keys.issuer_key = std::move(*issuer_key);
  auto ocsp_key = HsmKeyFor(token, ic.ocsp_key_label, keys.ocsp_cert.get(),
                            env_name + " OCSP signer", engine::SignerKey::kOcsp, metrics);
  if (!ocsp_key) return Fail(ocsp_key.error().code, ocsp_key.error().ToString());
  keys.ocsp_key = std::move(*ocsp_key);
  return keys;
}

// Engine pair (issue 20): the lease keeper of an instance whose stores are on PostgreSQL, on its
// own connections to that database, started before the instance opens so that a standby signs
// nothing at start-up (engine/lease_keeper.h). It outlives the instance and the engine.
struct PairKeeper {
  std::unique_ptr<kv::Env> env;
  std::unique_ptr<engine::LeaseKeeper> keeper;
  // The database's replication for the metrics, on connections of its own (replication_watch.h).
  std::unique_ptr<kv::Env> watch_env;
  std::unique_ptr<engine::ReplicationWatch> watch;
};

Result<PairKeeper> StartLeaseKeeper(engine::api::CaEnvironment env,
                                    const engine::InstanceConfig& ic, const engine::HaConfig& ha) {
  std::string env_name(engine::api::CaEnvironmentName(env));
  kv::EnvOptions options;
  options.location = ic.store;
  options.create = true;
  auto opened = kv::Env::Open(options);
  if (!opened)
    return Fail(opened.error().code, env_name + " lease store: " + opened.error().ToString());
  PairKeeper out;
  out.env = std::make_unique<kv::Env>(std::move(*opened));
  engine::LeaseKeeperOptions ko;
  ko.lease = engine::EngineLeaseName(env_name);
  ko.holder = ha.node_name.empty() ? engine::DefaultNodeName() : ha.node_name;
  ko.ttl = std::chrono::seconds(ha.lease_ttl_seconds);
  out.keeper = std::make_unique<engine::LeaseKeeper>(ko, engine::LeaseOpsOn(*out.env));
  out.keeper->Start();
  auto watched = kv::Env::Open(options);
  if (!watched)
    return Fail(watched.error().code,
                env_name + " replication watch: " + watched.error().ToString());
  out.watch_env = std::make_unique<kv::Env>(std::move(*watched));
  out.watch = std::make_unique<engine::ReplicationWatch>(
      [db = out.watch_env.get()] { return db->GetReplication(); }, std::chrono::seconds(5));
  out.watch->Start();
  ca::log::Info("engine_pair", {{"environment", env_name},
                                {"lease", ko.lease},
                                {"node", ko.holder},
                                {"ttl_seconds", ha.lease_ttl_seconds},
                                {"active", out.keeper->Active()},
                                {"holder", out.keeper->holder()}});
  return out;
}

Result<std::unique_ptr<engine::CaInstance>> OpenInstance(
    engine::api::CaEnvironment env, const engine::InstanceConfig& ic, Tokens& tokens,
    engine::EngineMetrics& metrics, const engine::CrashHook& crash_hook,
    engine::IssuanceAudit* audit, const engine::LeaseKeeper* lease) {
  std::string env_name(engine::api::CaEnvironmentName(env));
  hsm::Token* token = CA_TRY(TokenFor(ic, env_name, tokens));
  engine::CaKeys keys = CA_TRY(LoadKeys(ic, env_name, *token, metrics));
  engine::CaInstanceOptions opt;
  opt.environment = env;
  opt.store_dir = ic.store;
  opt.status_store_dir = ic.status_store;
  opt.issuer_name = ic.issuer_name;
  opt.profiles_dir = ic.profiles_dir;
  opt.ocsp_url = ic.ocsp_url;
  opt.ca_issuers_url = ic.ca_issuers_url;
  opt.crl_url = ic.crl_url;
  opt.crl_shards = ic.crl_shards;
  opt.staging_grant_required = ic.staging_grant_required;
  opt.lease = lease;
  auto inst = engine::CaInstance::Open(opt, std::move(keys), crash_hook, audit);
  if (!inst) return Fail(inst.error().code, env_name + ": " + inst.error().ToString());
  return std::move(*inst);
}

// The key the EAB MAC keys are wrapped to (mac_wrap_key_label, on the production token): an
// RSA-3072 pair whose private half only unwraps and never leaves the token (hsm::KeyUsage::
// kUnwrap). Made here because the engine is the one holder of the token's PIN (read from the
// config's PIN source, never argv); made once, then found again. Prints its public half (PEM) on
// stdout: acme-ca-setup installs it for ca-ra (--mac-wrap-public-key), which then wraps new MAC
// keys without the PIN and without a channel to the engine.
int MakeMacWrapKey(const std::string& config_path) {
  auto config = engine::LoadEngineConfig(config_path);
  if (!config) return std::cerr << "ca-engine: " << config.error().ToString() << "\n", 1;
  if (config->mac_wrap_key_label.empty())
    return std::cerr << "ca-engine: " << config_path << " sets no mac_wrap_key_label\n", 1;
  const auto& ic = config->instances.at(engine::api::CaEnvironment::kProduction);
  Tokens tokens;
  auto token = TokenFor(ic, "production", tokens);
  if (!token) return std::cerr << "ca-engine: " << token.error().ToString() << "\n", tokens.pin_refused ? kExitPinRefused : 1;
  auto key = (*token)->FindKey(config->mac_wrap_key_label);
  if (!key && key.error().code == ErrorCode::kNotFound)
    key = (*token)->GenerateKeyPair(hsm::KeyType::kRsa3072, config->mac_wrap_key_label, hsm::KeyUsage::kUnwrap);
  auto pem = key ? ossl::PublicKeyToPem((*key)->public_key()) : std::unexpected(key.error());
  if (!pem) return std::cerr << "ca-engine: MAC wrapping key: " << pem.error().ToString() << "\n", 1;
  std::cout << *pem;
  return 0;
}

int Run(const std::string& config_path) {
  ca::log::Init("ca-engine");
  ca::HardenProcessForSecrets();
  // Pages holding the PIN or keys may reach swap; the unit sets LimitMEMLOCK=infinity for this.
  ca::WarnIfMemoryNotLocked("acme-ca-engine.service");
  auto fail = [](const std::string& line) {
    ca::log::Error("engine_start_failed", {{"error", line}});
    std::cerr << "ca-engine: " << line << "\n";
    return 1;
  };
  auto config = engine::LoadEngineConfig(config_path);
  if (!config) return fail(config.error().ToString());
  auto crash_hook = CrashHookFromEnv(config->test_hooks);
  if (!crash_hook) return fail(crash_hook.error().ToString());
  // Declared before the keys and the engine that report into them, so that they outlive both.
  engine::EngineMetrics metrics;
  std::unique_ptr<audit::AuditLog> audit_log;
  if (!config->audit_log.empty()) {
    auto opened = audit::AuditLog::Open(config->audit_log, "ca-engine");
    if (!opened) return fail("audit_log: " + opened.error().ToString());
    audit_log = std::move(*opened);
  }

  // Signals are handled by the main thread only (sigwait); every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // Before the instances: their crash recovery at open writes audit entries.
  engine::Recorder recorder(std::move(audit_log), metrics,
                            {config->metrics_file, config->metrics_interval_seconds});
  // One logged-in token per (module, label).
  Tokens tokens;
  // Before the instances and the engine, which refer to them (destroyed after both).
  std::map<engine::api::CaEnvironment, PairKeeper> keepers;
  std::map<engine::api::CaEnvironment, std::unique_ptr<engine::CaInstance>> instances;
  for (const auto& [env, ic] : config->instances) {
    if (kv::IsPostgresLocation(ic.store)) {
      auto keeper = StartLeaseKeeper(env, ic, config->ha);
      if (!keeper) return fail(keeper.error().message);
      keepers[env] = std::move(*keeper);
      recorder.SetReplicationWatch(env, keepers[env].watch.get());
    }
    const engine::LeaseKeeper* lease = keepers.contains(env) ? keepers[env].keeper.get() : nullptr;
    auto inst = OpenInstance(env, ic, tokens, metrics, *crash_hook,
                             config->audit_log.empty() ? nullptr : &recorder, lease);
    if (!inst && tokens.pin_refused) {
      ca::log::Error("hsm_pin_refused",
                     {{"error", *tokens.pin_refused}, {"exit_status", kExitPinRefused}});
      std::cerr << "ca-engine: " << *tokens.pin_refused << "\n";
      return kExitPinRefused;
    }
    if (!inst) return fail(inst.error().message);
    instances[env] = std::move(*inst);
  }
  auto policy = profiles::policy::PolicyStore::OpenReadOnly(config->policy_store);
  if (!policy) return fail("policy_store: " + policy.error().ToString());
  auto eng = engine::Engine::Open(std::move(*policy), std::move(instances));
  if (!eng) return fail(eng.error().ToString());
  (*eng)->SetObserver(&recorder);
  if (!config->mac_wrap_key_label.empty()) {
    const auto& hsm = config->instances.at(engine::api::CaEnvironment::kProduction).hsm;
    auto token = tokens.open.at({hsm.module, hsm.token_label});
    auto verifier = engine::EabVerifier::Open(token, config->mac_wrap_key_label);
    if (!verifier) return fail("mac_wrap_key_label: " + verifier.error().ToString());
    (*eng)->SetEabVerifier(std::move(*verifier));
  }
  if (auto s = (*eng)->StartBackground(); !s) return fail(s.error().ToString());

  engine::ChannelServerOptions so;
  so.socket_path = config->socket_path;
  so.socket_group = config->socket_group;
  so.allowed_uids = config->allowed_peer_uids;
  so.identity = {config->channel_cert, config->channel_key, config->client_fingerprints};
  so.tcp_listen = config->peer_listen;
  so.tcp_client_fingerprints = config->peer_client_fingerprints;
  engine::Engine* raw = eng->get();
  auto server = engine::ChannelServer::Start(
      so, [raw](const engine::api::Request& r, const engine::PeerInfo& p) {
        return raw->Handle(r, p);
      });
  if (!server) return fail("channel: " + server.error().ToString());
  ca::log::Info(
      "engine_started",
      {{"socket", config->socket_path}, {"pid", ::getpid()}, {"test_hooks", config->test_hooks}});

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGUSR1) {
      if (!config->test_hooks) continue;
      // Test hook: invalidate every HSM session, as a token restart would (fault test).
      for (auto& [k, token] : tokens.open) {
        auto s = token->CloseAllSessionsForTest();
        ca::log::Warn("test_hsm_sessions_closed", {{"token", k.second}, {"ok", s.has_value()}});
      }
      continue;
    }
    ca::log::Info("engine_stopping", {{"signal", sig}});
    break;
  }
  (*server)->Stop();
  (*eng)->Stop();
  // Last: nothing signs any more, so the standby may take over at once.
  for (auto& [env, pair] : keepers) pair.keeper->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "--config") return Run(args[1]);
  if (args.size() == 3 && args[0] == "make-channel-credentials" && args[1] == "--out")
    return MakeCredentials(args[2]);
  if (args.size() == 3 && args[0] == "make-mac-wrap-key" && args[1] == "--config")
    return MakeMacWrapKey(args[2]);
  return Usage();
}
