// The stored text of the gateway's records: exactly what `ToJson(record).dump()` gives (the format
// the RA CLI and older gateways read; keys in sorted order, no spaces), written straight into one
// string instead of through a nlohmann::json tree (its allocations and per-character escaping of
// the order's base64 CSR and the certificate's PEM chain were ~5 % of the gateway's instructions
// per certificate). A record with a string that is not plain ASCII is encoded through ToJson, so
// nlohmann's UTF-8 handling stays the only one. record_text_test.cpp compares both encodings.
#pragma once

#include <string>

#include "gateway/store.h"

namespace ca::gateway {

std::string RecordText(const AccountRecord& r);
std::string RecordText(const OrderRecord& r);
std::string RecordText(const AuthzRecord& r);
std::string RecordText(const ChallengeRecord& r);
std::string RecordText(const CertRecord& r);

}  // namespace ca::gateway
