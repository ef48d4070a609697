// ca-validation-agent configuration: where it listens, its TLS identity, which clients it answers
// (certificates signed by client_ca_file and naming one of client_names), its limits, and the
// one perspective it validates from (a "validation" object as the gateway's, one vantage point).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "gateway/validation/config.h"

namespace ca::gateway::validation::agent {

struct AgentConfig {
  std::string listen_address = "0.0.0.0";  // IPv4
  uint16_t port = 8744;
  std::string tls_cert_file;   // the agent's server certificate (PEM, chain allowed)
  std::string tls_key_file;    // its key: mode 0600/0400 (ReadSecretFile)
  std::string client_ca_file;  // the CA that signs the gateway's client certificate
  // dNSName (or CN) the client certificate must carry; empty list refused: every certificate of
  // the CA (e.g. any ACME-issued one) would otherwise be accepted.
  std::vector<std::string> client_names;
  size_t max_request_bytes = 8 * 1024;  // at most kMaxAgentRequestBytes
  int64_t max_seconds = 60;             // a validation never runs longer, whatever is asked
  unsigned max_connections = 16;        // concurrent connections (one thread each)
  unsigned idle_timeout_seconds = 10;   // a connection that sends nothing is closed
  ValidatorConfig validation;           // exactly one local vantage point, no remote agents

  // Keys: listen_address, port, tls_cert_file, tls_key_file, client_ca_file, client_names,
  // max_request_bytes, max_seconds, max_connections, idle_timeout_seconds, validation. Unknown
  // keys refused.
  static Result<AgentConfig> FromJson(const nlohmann::json& object);
  static Result<AgentConfig> Load(const std::string& path);
};

}  // namespace ca::gateway::validation::agent
