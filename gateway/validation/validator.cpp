#include "gateway/validation/validator.h"

#include <algorithm>
#include <system_error>
#include <thread>

#include "gateway/validation/challenges.h"

namespace ca::gateway::validation {

std::string KeyAuthorization(std::string_view token, std::string_view jwk_thumbprint_b64url) {
  return std::string(token) + "." + std::string(jwk_thumbprint_b64url);
}

Result<std::shared_ptr<const Validator>> Validator::Create(ValidatorConfig config) {
  CA_TRY_STATUS(config.Check());
  std::shared_ptr<Validator> v(new Validator());
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

template <class Check>
Outcome Validator::RunEverywhere(Check check, Clock::time_point deadline) const {
  const size_t n = vantage_points_.size();
  std::vector<Outcome> outcomes(n);
  auto run = [&](size_t i) {
    Perspective p{config_, vantage_points_[i], dns_[i], deadline};
    outcomes[i] = check(p);
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
  const Outcome* first_invalid = nullptr;
  size_t first_invalid_index = 0;
  for (size_t i = 0; i < n; ++i) {
    if (outcomes[i].kind == OutcomeKind::kValid) ++valid;
    if (outcomes[i].kind == OutcomeKind::kUnavailable) ++unavailable;
    if (outcomes[i].kind == OutcomeKind::kInvalid && first_invalid == nullptr) {
      first_invalid = &outcomes[i];
      first_invalid_index = i;
    }
  }
  const std::string tally = std::to_string(valid) + " of " + std::to_string(n) +
                            " vantage points succeeded (quorum " + std::to_string(config_.quorum) +
                            ")";
  if (valid >= config_.quorum) {
    return Outcome::Valid(n == 1 ? outcomes[0].detail : tally);
  }
  if (valid + unavailable >= config_.quorum || first_invalid == nullptr) {
    std::string detail = "could not reach enough vantage points: " + tally;
    for (const auto& o : outcomes) {
      if (o.kind == OutcomeKind::kUnavailable) {
        detail += "; " + o.detail;
        break;
      }
    }
    return Outcome::Unavailable(detail);
  }
  Outcome out = *first_invalid;
  if (n > 1)
    out.detail = tally + "; " + vantage_points_[first_invalid_index].name + ": " + out.detail;
  return out;
}

Result<Outcome> Validator::ValidateChallenge(const ChallengeRequest& request,
                                             Clock::time_point deadline) const {
  CA_TRY_STATUS(CheckRequest(request));
  std::string_view id = request.identifier;
  if (id.starts_with("*.")) id.remove_prefix(2);
  const std::string name = CA_TRY(NormalizeDnsName(id));
  CaaRequest caa{request.account_uri, request.type};
  return RunEverywhere(
      [&](const Perspective& p) {
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
        if (outcome.valid() && request.check_caa)
          outcome = ca::gateway::validation::CheckCaa(p, request.identifier, caa);
        return outcome;
      },
      deadline);
}

Result<Outcome> Validator::CheckCaa(const std::string& identifier, const CaaRequest& request,
                                    Clock::time_point deadline) const {
  std::string_view id = identifier;
  if (id.starts_with("*.")) id.remove_prefix(2);
  CA_TRY(NormalizeDnsName(id));
  return RunEverywhere(
      [&](const Perspective& p) { return ca::gateway::validation::CheckCaa(p, identifier, request); },
      deadline);
}

}  // namespace ca::gateway::validation
