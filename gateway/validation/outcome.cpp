#include "gateway/validation/outcome.h"

namespace ca::gateway::validation {

std::string_view ChallengeTypeName(ChallengeType type) {
  switch (type) {
    case ChallengeType::kHttp01:
      return "http-01";
    case ChallengeType::kDns01:
      return "dns-01";
    case ChallengeType::kTlsAlpn01:
      return "tls-alpn-01";
  }
  return "unknown";
}

Result<ChallengeType> ParseChallengeType(std::string_view name) {
  if (name == "http-01") return ChallengeType::kHttp01;
  if (name == "dns-01") return ChallengeType::kDns01;
  if (name == "tls-alpn-01") return ChallengeType::kTlsAlpn01;
  return Fail(ErrorCode::kInvalidArgument, "unknown challenge type '" + std::string(name) + "'");
}

std::string_view ProblemTypeUrn(ProblemType type) {
  switch (type) {
    case ProblemType::kIncorrectResponse:
      return "urn:ietf:params:acme:error:incorrectResponse";
    case ProblemType::kUnauthorized:
      return "urn:ietf:params:acme:error:unauthorized";
    case ProblemType::kDns:
      return "urn:ietf:params:acme:error:dns";
    case ProblemType::kConnection:
      return "urn:ietf:params:acme:error:connection";
    case ProblemType::kTls:
      return "urn:ietf:params:acme:error:tls";
    case ProblemType::kCaa:
      return "urn:ietf:params:acme:error:caa";
    case ProblemType::kMalformed:
      return "urn:ietf:params:acme:error:malformed";
  }
  return "urn:ietf:params:acme:error:serverInternal";
}

Result<ProblemType> ParseProblemTypeUrn(std::string_view urn) {
  for (ProblemType type :
       {ProblemType::kIncorrectResponse, ProblemType::kUnauthorized, ProblemType::kDns,
        ProblemType::kConnection, ProblemType::kTls, ProblemType::kCaa, ProblemType::kMalformed}) {
    if (ProblemTypeUrn(type) == urn) return type;
  }
  return Fail(ErrorCode::kInvalidArgument, "unknown problem type '" + std::string(urn) + "'");
}

std::string OutcomeToString(const Outcome& outcome) {
  switch (outcome.kind) {
    case OutcomeKind::kValid:
      return "valid";
    case OutcomeKind::kUnavailable:
      return "unavailable: " + outcome.detail;
    case OutcomeKind::kInvalid: {
      std::string_view urn = ProblemTypeUrn(outcome.problem);
      return "invalid(" + std::string(urn.substr(urn.rfind(':') + 1)) + "): " + outcome.detail;
    }
  }
  return "?";
}

}  // namespace ca::gateway::validation
