// Mail addresses among an external account's contacts. A contact is free text entered by the RA:
// "Jane Doe <jane@corp.example>", "jane@corp.example" or "mailto:jane@corp.example" carry an
// address; "Demo Operator" does not, and is skipped (the report is then written to file only).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ca::reports::mail {

// The addr-spec in a contact (the part in <...> if any, else the whole text), or nullopt when
// the contact holds no plausible address. Only a conservative subset of RFC 5322 is accepted
// (no quoted local parts, no comments, no CR/LF, ASCII): anything else is not sent to.
std::optional<std::string> ExtractAddress(std::string_view contact);

// The distinct addresses among `contacts` (case-insensitively distinct, first spelling kept),
// in contact order.
std::vector<std::string> RecipientAddresses(const std::vector<std::string>& contacts);

// Whether `address` is an addr-spec ExtractAddress would return as is.
bool IsAddress(std::string_view address);

}  // namespace ca::reports::mail
