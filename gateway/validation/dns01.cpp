#include "common/encoding.h"
#include "gateway/validation/challenges.h"

namespace ca::gateway::validation {

Outcome CheckDns01(const Perspective& p, const std::string& name,
                   const std::string& key_authorization) {
  const std::string query = "_acme-challenge." + name;
  const std::string expected = Base64UrlEncode(Sha256(key_authorization));
  auto answer = p.dns.Txt(query);
  if (!answer) return DnsErrorOutcome(p, answer.error());
  if (answer->status != DnsStatus::kOk) {
    std::string status(DnsStatusName(answer->status));
    if (answer->status == DnsStatus::kNxDomain || answer->status == DnsStatus::kNoData) {
      return Outcome::Invalid(ProblemType::kUnauthorized,
                              "No TXT record found at " + query + " (" + status +
                                  (answer->final_name != query ? " at " + answer->final_name : "") +
                                  ")");
    }
    return Outcome::Invalid(ProblemType::kDns,
                            "DNS problem: " + status + " looking up TXT for " + query);
  }
  for (const auto& value : answer->records) {
    if (value == expected) {
      return Outcome::Valid("TXT record at " + answer->final_name + " matches");
    }
  }
  std::string first = answer->records.empty() ? "" : answer->records.front();
  return Outcome::Invalid(
      ProblemType::kIncorrectResponse,
      "Incorrect TXT record \"" + Excerpt(first) + "\"" +
          (answer->records.size() > 1
               ? " (and " + std::to_string(answer->records.size() - 1) + " more)"
               : "") +
          " found at " + answer->final_name);
}

}  // namespace ca::gateway::validation
