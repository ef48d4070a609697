// What one check from one vantage point needs: the configuration, the vantage point, a DNS client
// bound to its resolver, and the deadline of the whole validation.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/encoding.h"
#include "gateway/validation/config.h"
#include "gateway/validation/dns_client.h"
#include "gateway/validation/net.h"
#include "gateway/validation/outcome.h"

namespace ca::gateway::validation {

struct Perspective {
  const ValidatorConfig& config;
  const VantagePoint& vantage;
  const DnsClient& dns;
  Clock::time_point deadline;
};

// A DNS Error (no answer at all, or an unusable one) as an outcome: kUnavailable errors (the
// vantage point's resolver did not answer) are transient, anything else is a dns problem.
Outcome DnsErrorOutcome(const Perspective& p, const Error& error);

// Addresses to try for `name`, A records first then AAAA (RFC 8555 §8.3 leaves the order to the
// CA), or the outcome explaining why there are none.
struct Addresses {
  std::vector<std::string> ips;
};
std::variant<Addresses, Outcome> ResolveForConnect(const Perspective& p, const std::string& name);

// An Error from net.h as an outcome: kCrypto -> tls, everything else -> connection.
Outcome NetErrorOutcome(const Error& error);

// The only way checks open connections: resolves `name` once (ResolveForConnect), drops every
// address config.allowed_networks does not permit (networks.h), and connects to the first
// permitted one that answers (at most 4 tried), to exactly the address that was checked. When no
// address is permitted, a connection problem saying which address and why; nothing is dialed.
// `deadline` bounds the exchange with the responder (io_timeout, within the validation deadline).
struct Dialed {
  Connection connection;
  Clock::time_point deadline;
};
std::variant<Dialed, Outcome> Dial(const Perspective& p, const std::string& name, uint16_t port);

// Printable, bounded excerpt of untrusted bytes for a problem detail (common/encoding.h).
using ca::Excerpt;

}  // namespace ca::gateway::validation
