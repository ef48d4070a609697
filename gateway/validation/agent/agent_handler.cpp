#include "gateway/validation/agent/agent_handler.h"

#include <algorithm>

#include "common/log.h"
#include "gateway/validation/validator.h"

namespace ca::gateway::validation::agent {

Result<std::unique_ptr<AgentHandler>> AgentHandler::Create(const AgentConfig& config) {
  const ValidatorConfig& v = config.validation;
  auto dns = CA_TRY(DnsClient::Create(v.EffectiveVantagePoints().front().resolver, v.dns_timeout,
                                      v.dns_attempts, v.max_cname_depth));
  return std::unique_ptr<AgentHandler>(new AgentHandler(config, std::move(dns)));
}

AgentHandler::Reply AgentHandler::Handle(std::string_view body) const {
  if (body.size() > config_.max_request_bytes) {
    return {413, nlohmann::json{{"error", "request larger than " +
                                              std::to_string(config_.max_request_bytes) + " bytes"}}
                     .dump()};
  }
  auto request = ParseAgentRequest(body);
  if (!request) return {400, nlohmann::json{{"error", request.error().message}}.dump()};
  AgentAnswer answer = Run(*request);
  log::Info("agent_validation", {{"check", request->check == AgentRequest::Check::kCaa
                                               ? "caa"
                                               : ChallengeTypeName(request->challenge.type)},
                                 {"identifier", request->challenge.identifier},
                                 {"outcome", OutcomeToString(answer.outcome)},
                                 {"addresses", answer.addresses}});
  return {200, EncodeAgentAnswer(answer)};
}

AgentAnswer AgentHandler::Run(const AgentRequest& request) const {
  // The gateway's ports (the same responders it would check), this zone's resolver and limits.
  ValidatorConfig config = config_.validation;
  config.http01_port = request.http01_port;
  config.https_port = request.https_port;
  config.tlsalpn01_port = request.tlsalpn01_port;
  const auto timeout = std::min(std::chrono::milliseconds(request.timeout_ms),
                                std::chrono::milliseconds(config_.max_seconds * 1000));
  const Perspective p{config, vantage_, dns_, Clock::now() + timeout};
  const ChallengeRequest& challenge = request.challenge;
  std::string_view id = challenge.identifier;
  if (id.starts_with("*.")) id.remove_prefix(2);
  auto name = NormalizeDnsName(id);
  if (!name) return {Outcome::Invalid(ProblemType::kMalformed, name.error().message), {}};
  if (request.check == AgentRequest::Check::kCaa) {
    return {
        CheckCaa(p, challenge.identifier, CaaRequest{challenge.account_uri, request.caa_method}),
        {}};
  }
  if (auto checked = Validator::CheckRequest(challenge); !checked) {
    return {Outcome::Invalid(ProblemType::kMalformed, checked.error().message), {}};
  }
  AgentAnswer answer{CheckChallengeFrom(p, *name, challenge), {}};
  // What this zone resolves the name to, for the gateway's audit trail (dns-01 connects nowhere).
  if (challenge.type != ChallengeType::kDns01) {
    auto resolved = ResolveForConnect(p, *name);
    if (auto* addresses = std::get_if<Addresses>(&resolved)) answer.addresses = addresses->ips;
  }
  return answer;
}

}  // namespace ca::gateway::validation::agent
