#include "profiles/issuance/dns_names.h"

#include <set>

namespace ca::profiles::issuance {

namespace {

std::unexpected<Error> BadName(std::string_view name, std::string_view why) {
  return Fail(ErrorCode::kInvalidArgument, "name '" + std::string(name) + "': " + std::string(why));
}

bool IsLdh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

}  // namespace

bool IsWildcard(std::string_view name) {
  return name.starts_with("*.");
}

Status ValidateDnsName(std::string_view name) {
  std::string_view host = IsWildcard(name) ? name.substr(2) : name;
  if (host.empty()) return BadName(name, "empty");
  if (name.size() > 253) return BadName(name, "longer than 253 characters");
  if (host.back() == '.') return BadName(name, "trailing dot");
  size_t labels = 0;
  bool last_all_digits = true;
  size_t start = 0;
  while (start <= host.size()) {
    size_t end = host.find('.', start);
    if (end == std::string_view::npos) end = host.size();
    std::string_view label = host.substr(start, end - start);
    if (label.empty()) return BadName(name, "empty label");
    if (label.size() > 63) return BadName(name, "label longer than 63 characters");
    last_all_digits = true;
    for (char c : label) {
      if (c == '*') return BadName(name, "'*' is only allowed as the whole leftmost label");
      if (c >= 'A' && c <= 'Z') return BadName(name, "must be lower case");
      if (!IsLdh(c)) return BadName(name, "characters must be a-z, 0-9, '-' (IDNs as A-labels)");
      if (c < '0' || c > '9') last_all_digits = false;
    }
    if (label.front() == '-' || label.back() == '-') {
      return BadName(name, "label starts or ends with '-'");
    }
    ++labels;
    start = end + 1;
  }
  if (labels < 2) return BadName(name, "needs at least two labels");
  if (last_all_digits) return BadName(name, "IP addresses are not DNS names");
  return Ok();
}

Status ValidateNames(const Profile& profile, std::span<const std::string> names) {
  if (names.empty()) return Fail(ErrorCode::kInvalidArgument, "no names");
  if (names.size() > static_cast<size_t>(profile.max_names)) {
    return Fail(ErrorCode::kInvalidArgument, std::to_string(names.size()) +
                                                 " names exceed the profile's maximum of " +
                                                 std::to_string(profile.max_names));
  }
  std::set<std::string_view> seen;
  for (const std::string& name : names) {
    CA_TRY_STATUS(ValidateDnsName(name));
    if (!seen.insert(name).second) return BadName(name, "duplicate");
    bool wildcard = IsWildcard(name);
    if (profile.wildcards == WildcardRule::kRequired && !wildcard) {
      return BadName(name, "profile " + std::string(profiles::policy::ProfileName(profile.id)) +
                               " accepts wildcard names only");
    }
    if (profile.wildcards == WildcardRule::kForbidden && wildcard) {
      return BadName(name, "profile " + std::string(profiles::policy::ProfileName(profile.id)) +
                               " does not accept wildcard names");
    }
  }
  return Ok();
}

}  // namespace ca::profiles::issuance
