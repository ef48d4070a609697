#include "gateway/validation/perspective.h"

#include <sys/socket.h>

#include <optional>

#include "gateway/validation/networks.h"

namespace ca::gateway::validation {

Outcome DnsErrorOutcome(const Perspective& p, const Error& error) {
  if (error.code == ErrorCode::kUnavailable) {
    return Outcome::Unavailable("vantage point " + p.vantage.name + ": " + error.message);
  }
  return Outcome::Invalid(ProblemType::kDns, error.message);
}

std::variant<Addresses, Outcome> ResolveForConnect(const Perspective& p, const std::string& name) {
  Addresses out;
  auto v4 = p.dns.Addresses(name, AF_INET);
  if (!v4) return DnsErrorOutcome(p, v4.error());
  if (v4->status == DnsStatus::kNxDomain) {
    return Outcome::Invalid(ProblemType::kDns, "DNS problem: NXDOMAIN looking up A for " + name);
  }
  if (v4->status == DnsStatus::kServFail || v4->status == DnsStatus::kRefused) {
    return Outcome::Invalid(
        ProblemType::kDns,
        "DNS problem: " + std::string(DnsStatusName(v4->status)) + " looking up A for " + name);
  }
  out.ips = v4->records;
  auto v6 = p.dns.Addresses(name, AF_INET6);
  if (v6 && v6->status == DnsStatus::kOk)
    out.ips.insert(out.ips.end(), v6->records.begin(), v6->records.end());
  if (out.ips.empty()) {
    if (!v6 && v6.error().code == ErrorCode::kUnavailable) return DnsErrorOutcome(p, v6.error());
    return Outcome::Invalid(ProblemType::kDns,
                            "DNS problem: no A or AAAA records found for " + name);
  }
  return out;
}

std::variant<Dialed, Outcome> Dial(const Perspective& p, const std::string& name, uint16_t port) {
  auto resolved = ResolveForConnect(p, name);
  if (auto* outcome = std::get_if<Outcome>(&resolved)) return *outcome;
  const std::vector<IpAddress> local = CachedLocalInterfaceAddresses();
  std::optional<Error> last_error;
  std::string refused;  // the first refusal, reported when no address is permitted
  const size_t kMaxAddresses = 4;
  size_t tried = 0;
  for (const std::string& text : std::get<Addresses>(resolved).ips) {
    if (tried == kMaxAddresses) break;
    auto address = IpAddress::Parse(text);
    if (!address) continue;  // the DNS client only returns addresses; be safe anyway
    if (auto why = RefuseDial(*address, p.config.allowed_networks, local)) {
      if (refused.empty()) refused = address->ToString() + " (" + *why + ")";
      continue;
    }
    ++tried;
    const auto deadline = std::min(p.deadline, Clock::now() + p.config.io_timeout);
    auto conn = Connection::Open(address->ToString(), port, p.vantage.source_address,
                                 p.config.connect_timeout, deadline);
    if (conn) return Dialed{std::move(*conn), deadline};
    last_error = conn.error();
  }
  if (last_error) return NetErrorOutcome(*last_error);
  if (refused.empty()) refused = "no usable address";
  return Outcome::Invalid(ProblemType::kConnection,
                          name + " resolves to " + refused +
                              ": the validator does not connect there (the operator's "
                              "validation.allowed_networks decides which networks it may reach)");
}

Outcome NetErrorOutcome(const Error& error) {
  if (error.code == ErrorCode::kCrypto) return Outcome::Invalid(ProblemType::kTls, error.message);
  return Outcome::Invalid(ProblemType::kConnection, error.message);
}

}  // namespace ca::gateway::validation
