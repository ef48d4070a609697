// What a domain-control or CAA check concluded, in the terms the ACME server reports to clients.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ca::gateway::validation {

enum class ChallengeType { kHttp01, kDns01, kTlsAlpn01 };

// "http-01", "dns-01", "tls-alpn-01".
std::string_view ChallengeTypeName(ChallengeType type);
Result<ChallengeType> ParseChallengeType(std::string_view name);

// The RFC 8555 §6.7 problem types a failed validation maps to.
enum class ProblemType {
  kIncorrectResponse,  // the responder answered, but not with the key authorization
  kUnauthorized,       // the responder refused (HTTP status other than 200, missing extension...)
  kDns,                // the DNS said NXDOMAIN / NODATA / SERVFAIL for something needed
  kConnection,         // TCP connect / read failure, timeout, redirect not allowed
  kTls,                // TLS handshake failure or unusable tls-alpn-01 certificate
  kCaa,                // a CAA record set forbids issuance (operator result code INVALID_DNSCAA)
  kMalformed,          // the request itself was not acceptable (bad name or token)
};

// "urn:ietf:params:acme:error:incorrectResponse" etc.
std::string_view ProblemTypeUrn(ProblemType type);
Result<ProblemType> ParseProblemTypeUrn(std::string_view urn);

enum class OutcomeKind {
  kValid,        // control (or CAA permission) established
  kInvalid,      // definitive failure: problem + detail say why
  kUnavailable,  // transient: too few vantage points could be reached to decide; retry later
};

// What one perspective (a local vantage point or a remote agent) concluded, for the audit trail.
struct PerspectiveReport {
  std::string name;
  bool remote = false;  // a ca-validation-agent
  OutcomeKind kind = OutcomeKind::kInvalid;
  ProblemType problem = ProblemType::kConnection;
  std::string detail;
  std::vector<std::string> addresses;  // what the agent resolved the name to (http-01, tls-alpn-01)
};

struct Outcome {
  OutcomeKind kind = OutcomeKind::kInvalid;
  ProblemType problem = ProblemType::kConnection;  // meaningful when kind != kValid
  std::string detail;                              // one line, safe to show to the ACME client
  // Filled by Validator when several perspectives (or any remote agent) took part: each one's
  // answer, in configuration order (local vantage points first).
  std::vector<PerspectiveReport> perspectives;

  static Outcome Valid(std::string detail = {}) {
    return {OutcomeKind::kValid, ProblemType::kConnection, std::move(detail), {}};
  }
  static Outcome Invalid(ProblemType problem, std::string detail) {
    return {OutcomeKind::kInvalid, problem, std::move(detail), {}};
  }
  static Outcome Unavailable(std::string detail) {
    return {OutcomeKind::kUnavailable, ProblemType::kConnection, std::move(detail), {}};
  }
  bool valid() const { return kind == OutcomeKind::kValid; }
};

// "valid", "invalid(dns): ...", for logs and test messages.
std::string OutcomeToString(const Outcome& outcome);

}  // namespace ca::gateway::validation
