// The policy store's on-disk layout, shared by the read side (store.cpp) and the RA's write side
// (admin/writer.cpp): meta keys, record keys, and the version counter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "kv/kv.h"

namespace ca::profiles::policy::store_layout {

inline constexpr std::string_view kSchemaKey = "schema_version";
inline constexpr std::string_view kVersionKey = "version";
inline constexpr std::string_view kAuditSeqKey = "audit_seq";
inline constexpr std::string_view kMassRevocationSeqKey = "mass_revocation_seq";

// An operator's dashboard credential hash (profiles/policy/dashboard_credential.h) lives in meta.
inline constexpr std::string_view kDashboardOperatorPrefix = "dashboard_operator:";

// 20-digit zero-padded: sequence keys sort as numbers.
std::string SeqKey(uint64_t seq);
std::string DomainKey(std::string_view kid, std::string_view fqdn);
std::optional<uint64_t> ParseU64(std::string_view s);
// The committed policy version (0 before the first write); kCorrupt when malformed.
Result<uint64_t> ReadVersion(const kv::Txn& txn, kv::Table meta);

}  // namespace ca::profiles::policy::store_layout
