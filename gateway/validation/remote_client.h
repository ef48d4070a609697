// The gateway's side of remote perspectives: asks one ca-validation-agent over mutual TLS
// (libcurl, see README "Remote agents"). A separate library (ca_validation_remote) so that the
// agent itself, which links ca_validation, does not carry an HTTP client.
#pragma once

#include "gateway/validation/validator.h"

namespace ca::gateway::validation {

// POSTs the request to agent.url, presenting agent.client_cert_file/client_key_file, trusting
// only agent.ca_file for the agent's certificate (host name checked), no proxy, no redirect,
// answer bounded to kMaxAgentAnswerBytes, done by `deadline`. Every failure (connect, TLS, HTTP
// status, bad answer) is Outcome::Unavailable naming the agent: a dead zone is transient.
AgentAnswer AskAgent(const RemoteAgent& agent, const AgentRequest& request,
                     Clock::time_point deadline);

}  // namespace ca::gateway::validation
