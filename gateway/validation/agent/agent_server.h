// The agent's HTTPS server: libmicrohttpd with TLS (GnuTLS underneath, as the gateway's server),
// one thread per connection up to max_connections, POST /validate only. The client must present
// a certificate that verifies against client_ca_file, is meant for TLS clients, and names one of
// client_names; otherwise 403 and nothing is checked.
#pragma once

#include <cstdint>
#include <memory>

#include "common/result.h"
#include "gateway/validation/agent/agent_config.h"
#include "gateway/validation/agent/agent_handler.h"

struct MHD_Daemon;

namespace ca::gateway::validation::agent {

class AgentServer {
 public:
  // Reads the certificate, key and client CA files; listens on config.listen_address:port (port
  // 0: any free port, see port()). `config` must outlive the server.
  static Result<std::unique_ptr<AgentServer>> Start(const AgentConfig& config);
  ~AgentServer();
  AgentServer(const AgentServer&) = delete;
  AgentServer& operator=(const AgentServer&) = delete;

  uint16_t port() const { return port_; }

  struct State;

 private:
  AgentServer() = default;
  std::unique_ptr<State> state_;
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
};

}  // namespace ca::gateway::validation::agent
