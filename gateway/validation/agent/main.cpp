// ca-validation-agent --config FILE: answers validation requests from the gateway over mutual TLS
// from this network zone's point of view (README.md).
#include <signal.h>

#include <cstdio>
#include <string>

#include "common/log.h"
#include "common/secret.h"
#include "gateway/validation/agent/agent_server.h"

namespace {

int Die(const std::string& message) {
  std::fprintf(stderr, "ca-validation-agent: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ca::gateway::validation::agent;
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc)
      config_path = argv[++i];
    else if (arg.starts_with("--config="))
      config_path = arg.substr(9);
    else
      return Die("usage: ca-validation-agent --config FILE (unknown argument " + arg + ")");
  }
  if (config_path.empty()) return Die("usage: ca-validation-agent --config FILE");
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);
  ca::HardenProcessForSecrets();
  ca::log::Init("ca-validation-agent");
  auto config = AgentConfig::Load(config_path);
  if (!config) return Die(config.error().message);
  auto server = AgentServer::Start(*config);
  if (!server) return Die(server.error().message);
  ca::log::Info("agent_started",
                {{"listen", config->listen_address},
                 {"port", (*server)->port()},
                 {"resolver", config->validation.EffectiveVantagePoints()[0].resolver}});
  int sig = 0;
  sigwait(&stop, &sig);
  ca::log::Info("agent_stopping", {{"signal", sig}});
  return 0;
}
