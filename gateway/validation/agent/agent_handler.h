// What the agent does with one request once the client is authenticated: parse it, run the same
// check the gateway runs locally (CheckChallengeFrom / CheckCaa) from this zone's vantage point,
// and answer. Separate from the HTTP server so the tests can drive it directly.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "gateway/validation/agent/agent_config.h"
#include "gateway/validation/agent_protocol.h"
#include "gateway/validation/dns_client.h"

namespace ca::gateway::validation::agent {

class AgentHandler {
 public:
  static Result<std::unique_ptr<AgentHandler>> Create(const AgentConfig& config);

  // HTTP status and body for one request body: 200 with an AgentAnswer, 400 with
  // {"error": "..."} for a request that does not parse.
  struct Reply {
    unsigned status = 200;
    std::string body;
  };
  Reply Handle(std::string_view body) const;

  // The check itself, for a parsed request.
  AgentAnswer Run(const AgentRequest& request) const;

 private:
  AgentHandler(const AgentConfig& config, DnsClient dns)
      : config_(config),
        vantage_(config.validation.EffectiveVantagePoints().front()),
        dns_(std::move(dns)) {}
  const AgentConfig& config_;
  VantagePoint vantage_;
  DnsClient dns_;
};

}  // namespace ca::gateway::validation::agent
