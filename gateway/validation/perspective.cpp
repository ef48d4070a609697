#include "gateway/validation/perspective.h"

#include <sys/socket.h>

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

Outcome NetErrorOutcome(const Error& error) {
  if (error.code == ErrorCode::kCrypto) return Outcome::Invalid(ProblemType::kTls, error.message);
  return Outcome::Invalid(ProblemType::kConnection, error.message);
}

std::string Excerpt(std::string_view bytes, size_t max) {
  std::string out;
  for (char c : bytes.substr(0, max)) {
    out.push_back(c >= 0x20 && c < 0x7f && c != '"' ? c : '?');
  }
  if (bytes.size() > max) out += "...";
  return out;
}

}  // namespace ca::gateway::validation
