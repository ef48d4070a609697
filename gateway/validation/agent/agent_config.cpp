#include "gateway/validation/agent/agent_config.h"

#include <arpa/inet.h>

#include <fstream>

#include "gateway/validation/agent_protocol.h"
#include "pki/json_fields.h"

namespace ca::gateway::validation::agent {

Result<AgentConfig> AgentConfig::FromJson(const nlohmann::json& object) {
  auto f = CA_TRY(pki::JsonFields::Of(object, "agent"));
  AgentConfig c;
  c.listen_address = CA_TRY(f.OptionalString("listen_address")).value_or(c.listen_address);
  in_addr a{};
  if (inet_pton(AF_INET, c.listen_address.c_str(), &a) != 1)
    return f.Bad("listen_address", "expected an IPv4 address");
  c.port = static_cast<uint16_t>(CA_TRY(f.OptionalIntIn("port", 1, 65535)).value_or(c.port));
  c.tls_cert_file = CA_TRY(f.NonEmptyString("tls_cert_file"));
  c.tls_key_file = CA_TRY(f.NonEmptyString("tls_key_file"));
  c.client_ca_file = CA_TRY(f.NonEmptyString("client_ca_file"));
  c.client_names = CA_TRY(f.StringList("client_names"));
  if (c.client_names.empty())
    return f.Bad("client_names", "name at least one client (the gateway's certificate name)");
  c.max_request_bytes =
      static_cast<size_t>(CA_TRY(f.OptionalIntIn("max_request_bytes", 256, kMaxAgentRequestBytes))
                              .value_or(c.max_request_bytes));
  c.max_seconds = CA_TRY(f.OptionalIntIn("max_seconds", 1, 300)).value_or(c.max_seconds);
  c.max_connections = static_cast<unsigned>(
      CA_TRY(f.OptionalIntIn("max_connections", 1, 1024)).value_or(c.max_connections));
  c.idle_timeout_seconds = static_cast<unsigned>(
      CA_TRY(f.OptionalIntIn("idle_timeout_seconds", 1, 300)).value_or(c.idle_timeout_seconds));
  const nlohmann::json* validation = CA_TRY(f.Object("validation"));
  c.validation = CA_TRY(ValidatorConfig::FromJson(*validation));
  if (!c.validation.remote_agents.empty() || c.validation.EffectiveVantagePoints().size() != 1) {
    return f.Bad("validation",
                 "an agent validates from exactly one vantage point (no remote_agents)");
  }
  CA_TRY_STATUS(f.RefuseUnknown());
  return c;
}

Result<AgentConfig> AgentConfig::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Fail(ErrorCode::kIo, "cannot read " + path);
  auto parsed = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Fail(ErrorCode::kInvalidArgument, path + ": not JSON");
  auto config = FromJson(parsed);
  if (!config) return Fail(config.error().code, path + ": " + config.error().message);
  return config;
}

}  // namespace ca::gateway::validation::agent
