#include "appliance/ra/caa_check.h"

#include <chrono>

#include "dns/caa.h"

namespace ca::appliance::ra {

namespace {

// A CLI waits for an operator: a short timeout, one retry.
constexpr std::chrono::seconds kDnsTimeout{3};
constexpr int kDnsAttempts = 2;

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

CaaSettings CaaSettings::From(const std::string& identities, const std::string& resolver) {
  CaaSettings out;
  size_t start = 0;
  while (start <= identities.size()) {
    size_t comma = identities.find(',', start);
    std::string id = identities.substr(start, comma == std::string::npos ? comma : comma - start);
    id.erase(0, id.find_first_not_of(" \t"));
    id.erase(id.find_last_not_of(" \t") + 1);
    if (!id.empty()) out.identities.push_back(id);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (!resolver.empty()) out.resolver = resolver;
  return out;
}

Result<std::string> CheckDomainCaa(const CaaSettings& settings, const std::string& fqdn) {
  auto refuse = [&](const std::string& why) {
    return Fail(ErrorCode::kPermissionDenied, why + "; nothing was changed");
  };
  auto client = dns::DnsClient::Create(settings.resolver, kDnsTimeout, kDnsAttempts);
  if (!client) return refuse("CAA not checked for " + fqdn + ": " + client.error().message);
  // No ACME account and no method yet: records naming this CA with accounturi= or
  // validationmethods= permit here; the gateway judges them at issuance.
  dns::CaaRequest request{settings.identities, std::nullopt, std::nullopt};
  dns::CaaDecision decision = dns::CheckCaa(*client, fqdn, request);
  switch (decision.verdict) {
    case dns::CaaVerdict::kPermitted:
      return decision.detail;
    case dns::CaaVerdict::kForbidden:
      return refuse(decision.detail + " (this CA's CAA identities: " + Joined(settings.identities) +
                    ")");
    case dns::CaaVerdict::kLookupFailed:
      return refuse(decision.detail + " (RFC 8659: a failed CAA lookup does not permit issuance)");
    case dns::CaaVerdict::kNoAnswer:
      return refuse("CAA for " + fqdn + " could not be looked up: " + decision.detail);
    case dns::CaaVerdict::kBadName:
      break;
  }
  return refuse("CAA not checked: " + decision.detail);
}

}  // namespace ca::appliance::ra
