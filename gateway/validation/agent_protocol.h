// What the gateway sends a ca-validation-agent and what the agent answers: one JSON object each
// way over mutual TLS (remote_client.h sends, agent/ answers). Both sides parse strictly and
// bounded: unknown keys, wrong types and oversize bodies are refused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "gateway/validation/caa.h"
#include "gateway/validation/outcome.h"
#include "gateway/validation/request.h"

namespace ca::gateway::validation {

inline constexpr size_t kMaxAgentRequestBytes = 8 * 1024;
inline constexpr size_t kMaxAgentAnswerBytes = 16 * 1024;
inline constexpr char kAgentPath[] = "/validate";

// {"check": "challenge", "type", "identifier", "token", "key_authorization", "account_uri",
//  "check_caa", "http01_port", "https_port", "tlsalpn01_port", "timeout_ms"}
// {"check": "caa", "identifier", "account_uri", "method" (optional), "timeout_ms"}
// Ports are the gateway's configuration (the agent checks the same ports the gateway would).
struct AgentRequest {
  enum class Check { kChallenge, kCaa } check = Check::kChallenge;
  ChallengeRequest challenge;  // kChallenge: all fields; kCaa: identifier and account_uri
  std::optional<ChallengeType> caa_method;  // kCaa
  uint16_t http01_port = 80, https_port = 443, tlsalpn01_port = 443;
  int64_t timeout_ms = 30000;  // how long the agent may take (bounded by its own limit)
};

std::string EncodeAgentRequest(const AgentRequest& request);
// kInvalidArgument with a one-line reason for anything not exactly the shape above.
Result<AgentRequest> ParseAgentRequest(std::string_view body);

// {"outcome": "valid"|"invalid"|"unavailable", "problem": URN (not when valid), "detail",
//  "addresses": ["10.0.0.5", ...]}
struct AgentAnswer {
  Outcome outcome;
  std::vector<std::string> addresses;  // what the agent resolved the name to
};

std::string EncodeAgentAnswer(const AgentAnswer& answer);
Result<AgentAnswer> ParseAgentAnswer(std::string_view body);

// [{"name", "remote", "outcome", "problem", "detail", "addresses"}] for the audit trail.
nlohmann::json PerspectiveReportsToJson(const std::vector<PerspectiveReport>& reports);

}  // namespace ca::gateway::validation
