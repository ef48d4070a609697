// ca-dashboard --config FILE: the live dashboard of external accounts (ANSSI R50) over HTTPS.
#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/log.h"
#include "common/openssl.h"
#include "common/secret.h"
#include "dashboard/app.h"
#include "dashboard/config.h"

namespace {

int Fatal(const std::string& message) {
  std::fprintf(stderr, "ca-dashboard: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else {
      config_path.clear();
      break;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "usage: ca-dashboard --config FILE\n");
    return 2;
  }
  ca::log::Init("ca-dashboard");
  ca::HardenProcessForSecrets();  // the TLS key and the session ids live in this process
  auto config = ca::dashboard::LoadDashboardConfig(config_path);
  if (!config) return Fatal(config.error().message);
  auto cert = ca::ossl::ReadFile(config->tls_cert_path);
  if (!cert) return Fatal(cert.error().message);
  auto key = ca::ossl::ReadFile(config->tls_key_path);
  if (!key) return Fatal(key.error().message);
  auto policy = ca::profiles::policy::PolicyStore::OpenReadOnly(config->policy_store);
  if (!policy) return Fatal(policy.error().message);
  auto ledger = ca::reports::Ledger::Open(config->audit);
  if (!ledger) return Fatal(ledger.error().message);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts: they inherit it
  std::signal(SIGPIPE, SIG_IGN);

  ca::dashboard::Dashboard dashboard(*policy, std::move(*ledger),
                                     config->session_ttl_seconds);
  dashboard.StartRefreshing();
  ca::dashboard::HttpServerOptions options;
  options.address = config->listen_address;
  options.port = config->port;
  options.tls_cert_pem = *cert;
  options.tls_key_pem = *key;
  options.threads = config->threads;
  auto server = ca::dashboard::HttpServer::Start(
      options, [&dashboard](const ca::dashboard::HttpRequest& r) { return dashboard.Handle(r); });
  if (!server) return Fatal(server.error().message);
  ca::log::Info("listening", {{"address", config->listen_address}, {"port", (*server)->port()}});
  int sig = 0;
  sigwait(&signals, &sig);
  ca::log::Info("stopping", {{"signal", sig}});
  server->reset();
  return 0;
}
