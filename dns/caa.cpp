#include "dns/caa.h"

#include <algorithm>

#include "common/encoding.h"

namespace ca::dns {

namespace {

std::string_view Trim(std::string_view s) {
  const char* ws = " \t";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

bool KnownTag(const std::string& tag) {
  return tag == "issue" || tag == "issuewild" || tag == "iodef" || tag == "contactemail" ||
         tag == "contactphone" || tag == "issuevmc" || tag == "issuemail";
}

struct IssueValue {
  std::string issuer;  // lower case; empty: nobody may issue
  std::vector<std::pair<std::string, std::string>> parameters;  // tag lower-cased, value as is
};

// issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]] (RFC 8659 §4.2).
std::optional<IssueValue> ParseIssueValue(std::string_view value) {
  IssueValue out;
  size_t semi = value.find(';');
  out.issuer = AsciiLower(Trim(value.substr(0, semi)));
  if (!out.issuer.empty() && !NormalizeDnsName(out.issuer)) return std::nullopt;
  if (semi == std::string_view::npos) return out;
  std::string_view rest = value.substr(semi + 1);
  while (!Trim(rest).empty()) {
    size_t next = rest.find(';');
    std::string_view param = Trim(rest.substr(0, next));
    size_t eq = param.find('=');
    if (eq == std::string_view::npos || eq == 0) return std::nullopt;
    std::string tag = AsciiLower(Trim(param.substr(0, eq)));
    std::string_view val = Trim(param.substr(eq + 1));
    if (val.empty() || val.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
    out.parameters.emplace_back(tag, std::string(val));
    if (next == std::string_view::npos) break;
    rest = rest.substr(next + 1);
  }
  return out;
}

}  // namespace

CaaDecision EvaluateCaaSet(const std::vector<CaaRecord>& records, bool wildcard,
                           const CaaRequest& request, const std::string& owner) {
  auto refuse = [&](std::string why) {
    return CaaDecision{CaaVerdict::kForbidden,
                       "CAA record for " + owner + " prevents issuance: " + why};
  };
  const std::vector<std::string>& identities = request.identities;
  std::vector<const CaaRecord*> issue, issuewild;
  for (const auto& record : records) {
    std::string tag = AsciiLower(record.tag);
    if (record.critical() && !KnownTag(tag))
      return refuse("unknown critical property \"" + Excerpt(record.tag) + "\"");
    if (tag == "issue") issue.push_back(&record);
    if (tag == "issuewild") issuewild.push_back(&record);
  }
  const bool use_wild = wildcard && !issuewild.empty();
  const auto& relevant = use_wild ? issuewild : issue;
  const std::string tag_used = use_wild ? "issuewild" : "issue";
  if (relevant.empty()) return {CaaVerdict::kPermitted, "no " + tag_used + " property at " + owner};

  std::string last_reason;
  for (const CaaRecord* record : relevant) {
    auto parsed = ParseIssueValue(record->value);
    if (!parsed) {
      last_reason = "malformed " + tag_used + " value \"" + Excerpt(record->value) + "\"";
      continue;
    }
    if (parsed->issuer.empty()) {
      last_reason = tag_used + " \";\" forbids every CA";
      continue;
    }
    bool ours = std::any_of(identities.begin(), identities.end(), [&](const std::string& id) {
      return AsciiLower(id) == parsed->issuer;
    });
    if (!ours) {
      last_reason = tag_used + " names \"" + Excerpt(parsed->issuer) + "\", not this CA";
      continue;
    }
    bool params_ok = true;
    for (const auto& [tag, value] : parsed->parameters) {
      if (tag == "accounturi" && request.account_uri && value != *request.account_uri) {
        params_ok = false;
        last_reason = "accounturi \"" + Excerpt(value, 128) + "\" is not this ACME account";
        break;
      }
      if (tag == "validationmethods" && request.method) {
        bool found = false;
        std::string_view list = value;
        while (!list.empty()) {
          size_t comma = list.find(',');
          if (Trim(list.substr(0, comma)) == *request.method) found = true;
          if (comma == std::string_view::npos) break;
          list = list.substr(comma + 1);
        }
        if (!found) {
          params_ok = false;
          last_reason =
              "validationmethods \"" + Excerpt(value) + "\" does not allow " + *request.method;
          break;
        }
      }
    }
    if (params_ok)
      return {CaaVerdict::kPermitted, tag_used + " property at " + owner + " names this CA"};
  }
  return refuse(last_reason);
}

CaaDecision CheckCaa(const DnsClient& dns, std::string_view identifier, const CaaRequest& request) {
  std::string_view id = identifier;
  const bool wildcard = id.starts_with("*.");
  if (wildcard) id.remove_prefix(2);
  auto name = NormalizeDnsName(id);
  if (!name) return {CaaVerdict::kBadName, name.error().message};
  std::string current = *name;
  while (true) {
    auto answer = dns.Caa(current);
    if (!answer) {
      if (answer.error().code == ErrorCode::kUnavailable)
        return {CaaVerdict::kNoAnswer, answer.error().message};
      return {CaaVerdict::kLookupFailed,
              "CAA lookup for " + current + " failed: " + answer.error().message};
    }
    if (answer->status == DnsStatus::kServFail || answer->status == DnsStatus::kRefused) {
      return {CaaVerdict::kLookupFailed, "CAA lookup for " + current + " failed: " +
                                             std::string(DnsStatusName(answer->status))};
    }
    if (answer->status == DnsStatus::kOk && !answer->records.empty()) {
      return EvaluateCaaSet(answer->records, wildcard, request, current);
    }
    size_t dot = current.find('.');
    if (dot == std::string::npos) break;  // the TLD had no CAA either; the root is not asked
    current = current.substr(dot + 1);
  }
  return {CaaVerdict::kPermitted, "no CAA records for " + *name + " or its parents"};
}

}  // namespace ca::dns
