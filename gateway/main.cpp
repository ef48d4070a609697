// ca-gateway --config FILE: the ACME server.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "common/audit_log.h"
#include "common/log.h"
#include "common/secret.h"
#include "gateway/adapters.h"
#include "gateway/config.h"
#include "gateway/http_server.h"
#include "gateway/retention.h"
#include "gateway/validation/remote_client.h"

namespace {

int Die(const std::string& message) {
  std::fprintf(stderr, "ca-gateway: %s\n", message.c_str());
  return 1;
}

// The global connection limit follows the descriptor limit (HttpServerOptions::max_connections):
// take the hard limit where allowed (the systemd unit sets both and forbids setrlimit).
void RaiseDescriptorLimit() {
  rlimit fds{};
  if (getrlimit(RLIMIT_NOFILE, &fds) != 0 || fds.rlim_cur >= fds.rlim_max) return;
  fds.rlim_cur = fds.rlim_max;
  setrlimit(RLIMIT_NOFILE, &fds);
}

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ca::gateway;
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) config_path = argv[++i];
    else if (arg.starts_with("--config=")) config_path = arg.substr(9);
    else return Die("usage: ca-gateway --config FILE (unknown argument " + arg + ")");
  }
  if (config_path.empty()) return Die("usage: ca-gateway --config FILE");
  // Block the stop signals before any thread starts (the store's group committer starts in
  // AcmeStore::Open), then wait for them on the main thread.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);
  ca::HardenProcessForSecrets();
  ca::log::Init("ca-gateway");
  RaiseDescriptorLimit();

  auto config = GatewayConfig::Load(config_path);
  if (!config) return Die(config.error().ToString());
  auto validator_config = ca::gateway::validation::ValidatorConfig::FromJson(config->validation);
  if (!validator_config) return Die("validation: " + validator_config.error().ToString());
  if (validator_config->allowed_networks.empty()) {
    // Fail-closed but easy to miss (an upgraded appliance whose gateway.json predates the key):
    // every http-01 and tls-alpn-01 validation will fail until the operator lists networks.
    ca::log::Warn("validator_networks_empty",
                  {{"effect", "http-01 and tls-alpn-01 validations fail; dns-01 is unaffected"},
                   {"fix", "set VALIDATOR_NETWORKS in setup.conf, then acme-ca-setup --reconfigure"}});
  }
  // Remote perspectives (ca-validation-agent in other network zones) are asked with libcurl.
  auto validator = ca::gateway::validation::Validator::Create(*validator_config,
                                                              &ca::gateway::validation::AskAgent);
  if (!validator) return Die("validation: " + validator.error().ToString());
  auto policy = PolicyStoreAdapter::Open(
      config->policy_store_dir,
      config->acme.environment == "staging" && config->acme.staging_access == "per-account");
  if (!policy) return Die("policy store: " + policy.error().ToString());
  auto store = AcmeStore::Open(config->store_dir, config->store_options);
  if (!store) return Die("gateway store: " + store.error().ToString());
  StorePruner pruner(*store, config->retention, NowUnix);
  pruner.Start();
  auto profiles = ca::profiles::issuance::LoadProfiles(
      config->profiles_dir, config->acme.environment == "staging" ? ca::profiles::issuance::Environment::kStaging
                                                                  : ca::profiles::issuance::Environment::kProduction);
  if (!profiles) return Die("certificate profiles: " + profiles.error().ToString());
  config->acme.certificate_profiles = std::move(*profiles);

  ca::engine::api::EngineClientOptions engine_options;
  engine_options.endpoints = config->engine.endpoints;
  engine_options.more_engine_fingerprints = config->engine.more_fingerprints;
  engine_options.client_cert_path = config->engine.client_cert;
  engine_options.client_key_path = config->engine.client_key;
  engine_options.engine_fingerprint = config->engine.fingerprint;
  EngineAdapter engine(engine_options);
  ValidatorAdapter validator_port(*validator);

  // Before the server, so that it outlives every request that may append to it.
  std::unique_ptr<ca::audit::AuditLog> refusal_audit;
  if (!config->audit_log.empty()) {
    auto opened = ca::audit::AuditLog::Open(config->audit_log, "ca-gateway");
    if (!opened) return Die("audit_log: " + opened.error().ToString());
    refusal_audit = std::move(*opened);
  }
  AcmeServer acme(config->acme, *store, **policy, engine, validator_port, NowUnix);
  if (refusal_audit) acme.SetRefusalAudit(refusal_audit.get());
  auto http = HttpServer::Start(config->http, acme);
  if (!http) return Die(http.error().ToString());
  // Orders and challenges a crash left processing, resumed on the validation workers: the
  // server answers meanwhile.
  acme.ResumeInterrupted();
  std::optional<MetricsServer> metrics;
  if (config->metrics.enabled) {
    auto started = MetricsServer::Start(config->metrics, acme);
    if (!started) return Die(started.error().ToString());
    metrics.emplace(std::move(*started));
  }
  ca::log::Info("gateway_started",
                {{"listen", config->http.listen_address},
                 {"port", http->port()},
                 {"base_url", config->acme.base_url},
                 {"environment", config->acme.environment},
                 {"max_connections", http->max_connections()},
                 {"max_connections_per_ip", config->http.max_connections_per_ip},
                 {"request_deadline_seconds", config->http.request_deadline_seconds},
                 {"validation_answer_wait_ms", config->acme.validation_answer_wait_ms},
                 {"metrics", metrics ? nlohmann::json(config->metrics.address + ":" +
                                                      std::to_string(metrics->port()))
                                     : nlohmann::json("disabled")}});
  int sig = 0;
  sigwait(&stop, &sig);
  ca::log::Info("gateway_stopping", {{"signal", sig}});
  acme.BeginShutdown();  // then the servers stop (destructors, in reverse order)
  return 0;
}
