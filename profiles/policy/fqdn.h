// Domain names as the RA stores them and the decision function compares them: ASCII only, lower
// case, no trailing dot, LDH labels of 1..63 octets, at most 253 octets, at least two labels, and
// every "xn--" A-label a valid Punycode encoding (RFC 3492) of a non-ASCII label.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace ca::profiles::policy {

// Returns the normalised form or kInvalidArgument with one line saying what is wrong. A leading
// "*." label is accepted only when allow_wildcard is true. Non-ASCII input (a U-label) is refused
// with a hint to use the A-label ("xn--...") form.
Result<std::string> NormalizeFqdn(std::string_view name, bool allow_wildcard);

// Decodes the part of an A-label after "xn--" into UTF-32 code points (RFC 3492 §6.2).
Result<std::u32string> PunycodeDecode(std::string_view encoded);

inline bool IsWildcardName(std::string_view name) {
  return name.starts_with("*.");
}

}  // namespace ca::profiles::policy
