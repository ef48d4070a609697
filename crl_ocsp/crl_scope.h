// Which CRL of an issuer: the full CRL (every revoked certificate of the issuer) or one shard, a
// partition named in the CRL distribution point of the certificates assigned to it and in the
// shard's critical Issuing Distribution Point (RFC 5280 §5.2.5, CA/Browser Forum SC-58). The one
// place that maps a scope to its URL path: the status server, the static export and the engine's
// CRLDP all use these functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"
#include "pki/serial.h"

namespace ca::crl_ocsp {

inline constexpr uint32_t kMaxCrlShards = 1024;

struct CrlScope {
  std::optional<uint32_t> shard;  // nullopt: the full CRL

  static CrlScope Full() { return {}; }
  static CrlScope Shard(uint32_t index) { return CrlScope{index}; }
  bool IsFull() const { return !shard.has_value(); }
  bool operator==(const CrlScope&) const = default;
};

// "crl/<issuer>.crl" (full) or "crl/<issuer>/<shard>.crl", relative (no leading '/'): the status
// server's URL path after its '/', and the file's path under the static export directory.
std::string CrlRelativePath(std::string_view issuer, CrlScope scope);

// The inverse, for a request path without its leading '/': the issuer name (not checked against
// CheckIssuerName: the caller looks it up) and the scope; nullopt when it is not a CRL path or the
// shard is not a decimal number below kMaxCrlShards without leading zeros.
std::optional<std::pair<std::string, CrlScope>> ParseCrlRelativePath(std::string_view path);

// The URL of a scope from the full CRL's URL, which must end in ".crl":
// "http://h/crl/ca.crl" -> "http://h/crl/ca/7.crl" for shard 7. kInvalidArgument otherwise.
Result<std::string> CrlScopeUrl(std::string_view full_crl_url, CrlScope scope);

// The shard of a new certificate among `shards`: uniform over [0, shards), from the low 64 bits
// of its random serial (bias below shards / 2^64). nullopt when sharding is off (shards == 0).
std::optional<uint32_t> CrlShardOf(const pki::Serial& serial, uint32_t shards);

}  // namespace ca::crl_ocsp
