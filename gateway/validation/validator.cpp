#include "gateway/validation/validator.h"

#include <algorithm>
#include <system_error>
#include <thread>

#include "gateway/validation/challenges.h"

namespace ca::gateway::validation {

std::string KeyAuthorization(std::string_view token, std::string_view jwk_thumbprint_b64url) {
  return std::string(token) + "." + std::string(jwk_thumbprint_b64url);
}

Result<std::shared_ptr<const Validator>> Validator::Create(ValidatorConfig config,
                                                           RemoteCall remote) {
  CA_TRY_STATUS(config.Check());
  if (!config.remote_agents.empty() && !remote) {
    return Fail(ErrorCode::kInvalidArgument,
                "remote agents are configured but this program cannot ask them");
  }
  std::shared_ptr<Validator> v(new Validator());
  v->remote_ = std::move(remote);
  v->vantage_points_ = config.EffectiveVantagePoints();
  for (const auto& vp : v->vantage_points_) {
    v->dns_.push_back(CA_TRY(DnsClient::Create(vp.resolver, config.dns_timeout, config.dns_attempts,
                                               config.max_cname_depth)));
  }
  v->config_ = std::move(config);
  return std::shared_ptr<const Validator>(std::move(v));
}

Status Validator::CheckRequest(const ChallengeRequest& request) {
  std::string_view id = request.identifier;
  if (id.starts_with("*.")) {
    if (request.type != ChallengeType::kDns01) {
      return Fail(ErrorCode::kInvalidArgument, "wildcard identifier " + request.identifier +
                                                   " can only be validated with dns-01");
    }
    id.remove_prefix(2);
  }
  auto name = NormalizeDnsName(id);
  if (!name) return std::unexpected(name.error());
  if (name->find('.') == std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                "identifier '" + request.identifier + "' is not a fully qualified name");
  }
  bool token_ok =
      !request.token.empty() && std::all_of(request.token.begin(), request.token.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
      });
  if (!token_ok) return Fail(ErrorCode::kInvalidArgument, "challenge token is not base64url");
  if (!request.key_authorization.starts_with(request.token + ".") ||
      request.key_authorization.size() == request.token.size() + 1) {
    return Fail(ErrorCode::kInvalidArgument, "key authorization is not token + \".\" + thumbprint");
  }
  return Ok();
}

Outcome CheckChallengeFrom(const Perspective& p, const std::string& name,
                           const ChallengeRequest& request) {
  Outcome outcome;
  switch (request.type) {
    case ChallengeType::kHttp01:
      outcome = CheckHttp01(p, name, request.token, request.key_authorization);
      break;
    case ChallengeType::kDns01:
      outcome = CheckDns01(p, name, request.key_authorization);
      break;
    case ChallengeType::kTlsAlpn01:
      outcome = CheckTlsAlpn01(p, name, request.key_authorization);
      break;
  }
  if (outcome.valid() && request.check_caa) {
    outcome = ca::gateway::validation::CheckCaa(p, request.identifier,
                                                CaaRequest{request.account_uri, request.type});
  }
  return outcome;
}

template <class Check>
Outcome Validator::RunEverywhere(Check check, AgentRequest remote_request,
                                 Clock::time_point deadline) const {
  const size_t local = vantage_points_.size();
  const size_t n = local + config_.remote_agents.size();
  const size_t required = config_.RequiredSuccesses();
  // The agent must answer before this validation's deadline: it gets the time left, less a margin
  // for the way back.
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()) -
                    std::chrono::milliseconds(500);
  remote_request.timeout_ms = std::max<int64_t>(100, left.count());
  remote_request.http01_port = config_.http01_port;
  remote_request.https_port = config_.https_port;
  remote_request.tlsalpn01_port = config_.tlsalpn01_port;
  std::vector<PerspectiveReport> reports(n);
  auto run = [&](size_t i) {
    PerspectiveReport& report = reports[i];
    Outcome outcome;
    if (i < local) {
      report.name = vantage_points_[i].name;
      outcome = check(Perspective{config_, vantage_points_[i], dns_[i], deadline});
    } else {
      const RemoteAgent& agent = config_.remote_agents[i - local];
      report.name = agent.name;
      report.remote = true;
      AgentAnswer answer = remote_(agent, remote_request, deadline);
      outcome = std::move(answer.outcome);
      report.addresses = std::move(answer.addresses);
    }
    report.kind = outcome.kind;
    report.problem = outcome.problem;
    report.detail = std::move(outcome.detail);
  };
  if (n == 1) {
    run(0);
  } else {
    std::vector<std::jthread> threads;
    threads.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      try {
        threads.emplace_back(run, i);
      } catch (const std::system_error&) {  // no thread available: run this perspective here
        run(i);
      }
    }
  }  // joined here
  size_t valid = 0, unavailable = 0;
  const PerspectiveReport* first_invalid = nullptr;
  for (const auto& r : reports) {
    if (r.kind == OutcomeKind::kValid) ++valid;
    if (r.kind == OutcomeKind::kUnavailable) ++unavailable;
    if (r.kind == OutcomeKind::kInvalid && first_invalid == nullptr) first_invalid = &r;
  }
  const std::string tally = std::to_string(valid) + " of " + std::to_string(n) +
                            " vantage points succeeded (quorum " + std::to_string(required) + ")";
  Outcome out;
  if (valid >= required) {
    out = Outcome::Valid(n == 1 ? reports[0].detail : tally);
  } else if (valid + unavailable >= required || first_invalid == nullptr) {
    std::string detail = "could not reach enough vantage points: " + tally;
    for (const auto& r : reports) {
      if (r.kind == OutcomeKind::kUnavailable) {
        detail += "; " + r.detail;  // names the vantage point or agent
        break;
      }
    }
    out = Outcome::Unavailable(detail);
  } else {
    out = Outcome::Invalid(first_invalid->problem, first_invalid->detail);
    // Some zones saw control, another did not: say so (split-horizon DNS is the usual cause).
    const std::string disagree = valid > 0 ? "perspectives disagree: " : "";
    if (n > 1) out.detail = disagree + tally + "; " + first_invalid->name + ": " + out.detail;
  }
  if (n > 1 || !config_.remote_agents.empty()) out.perspectives = std::move(reports);
  return out;
}

Result<Outcome> Validator::ValidateChallenge(const ChallengeRequest& request,
                                             Clock::time_point deadline) const {
  CA_TRY_STATUS(CheckRequest(request));
  std::string_view id = request.identifier;
  if (id.starts_with("*.")) id.remove_prefix(2);
  const std::string name = CA_TRY(NormalizeDnsName(id));
  AgentRequest remote;
  remote.challenge = request;
  return RunEverywhere([&](const Perspective& p) { return CheckChallengeFrom(p, name, request); },
                       remote, deadline);
}

Result<Outcome> Validator::CheckCaa(const std::string& identifier, const CaaRequest& request,
                                    Clock::time_point deadline) const {
  std::string_view id = identifier;
  if (id.starts_with("*.")) id.remove_prefix(2);
  CA_TRY(NormalizeDnsName(id));
  AgentRequest remote;
  remote.check = AgentRequest::Check::kCaa;
  remote.caa_method = request.method;
  remote.challenge.identifier = identifier;
  remote.challenge.account_uri = request.account_uri;
  return RunEverywhere(
      [&](const Perspective& p) {
        return ca::gateway::validation::CheckCaa(p, identifier, request);
      },
      remote, deadline);
}

}  // namespace ca::gateway::validation
