// Syntax of the dNSName identifiers a certificate may carry, and the profile's rules on them.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "common/encoding.h"  // AsciiLower: DNS names compare case-insensitively
#include "common/result.h"
#include "profiles/issuance/profile.h"

namespace ca::profiles::issuance {

// A lower-case ASCII host name (A-labels for IDNs): 2+ labels of [a-z0-9-], each 1..63 chars, not
// starting or ending with '-', total ≤ 253, no trailing dot, last label not all digits (no IP
// addresses). A wildcard is "*." followed by such a name with at least 2 labels.
bool IsWildcard(std::string_view name);
Status ValidateDnsName(std::string_view name);

// Checks a certificate's name list against a profile: 1..max_names names, each valid, no
// duplicates, and the profile's wildcard rule (WILD: every name a wildcard; others: none).
// kInvalidArgument names the offending entry.
Status ValidateNames(const Profile& profile, std::span<const std::string> names);

}  // namespace ca::profiles::issuance
