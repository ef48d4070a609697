// ca-status-server --config FILE: serves OCSP responses and CRLs from the status store.
#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/log.h"
#include "crl_ocsp/server/status_server.h"

int main(int argc, char** argv) {
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: ca-status-server --config FILE\n");
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "usage: ca-status-server --config FILE\n");
    return 2;
  }
  ca::log::Init("ca-status-server");
  auto config = ca::crl_ocsp::server::LoadServerConfig(config_path);
  if (!config) {
    std::fprintf(stderr, "ca-status-server: %s\n", config.error().ToString().c_str());
    return 1;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before MHD threads start: they inherit it
  std::signal(SIGPIPE, SIG_IGN);

  auto server = ca::crl_ocsp::server::StatusServer::Start(*config);
  if (!server) {
    std::fprintf(stderr, "ca-status-server: %s\n", server.error().ToString().c_str());
    return 1;
  }
  ca::log::Info("listening", {{"address", config->listen_address},
                              {"port", (*server)->port()},
                              {"threads", config->threads},
                              {"issuers", config->issuers}});
  int sig = 0;
  sigwait(&signals, &sig);
  ca::log::Info("stopping", {{"signal", sig}});
  server->reset();
  return 0;
}
