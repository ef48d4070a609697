// Partitioned CRLs (CRL shards, issue 19): which shard a new certificate goes to, which shards the
// CRL job publishes and what each lists, and whether a published shard still says that. Pure
// functions over the CA store's records; status_jobs.cpp signs and publishes.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"
#include "crl_ocsp/crl_scope.h"
#include "crl_ocsp/publish_guard.h"
#include "engine/ca_store.h"
#include "pki/crl_builder.h"
#include "pki/serial.h"

namespace ca::engine {

using crl_ocsp::CrlShardOf;  // the shard of a new certificate (crl_ocsp/crl_scope.h)

// What one shard lists: its revoked certificates, and the notAfter of every revoked certificate
// recorded in it (the publish guard's NotAfterBySerial, for entries that leave after expiry).
struct ShardContent {
  std::vector<pki::CrlEntry> entries;
  crl_ocsp::NotAfterBySerial not_after;
};

// The shards to publish and their content:
//  - every shard below `shards` (the configured count), even empty;
//  - a shard at or above it (the count was lowered, or sharding turned off) while a certificate
//    recorded in it is unexpired, or expired less than `keep_after_expiry` ago (so that a CRL
//    issued after the expiry lists its revocation): `recorded` maps such shards to the latest
//    notAfter of their certificates (LatestNotAfterByShard).
// A revoked certificate is listed in its recorded shard unless it expired before that shard's
// current CRL (`current_this_update`) was issued: RFC 5280 §3.3 lets it leave then.
std::map<uint32_t, ShardContent> PlanShards(std::span<const CertRecord> revoked, uint32_t shards,
                                            const std::map<uint32_t, pki::Time>& recorded,
                                            const std::map<uint32_t, pki::Time>& current_this_update,
                                            pki::Time now, std::chrono::seconds keep_after_expiry);

// The latest notAfter of the issued certificates recorded in each shard at or above `shards`.
Result<std::map<uint32_t, pki::Time>> LatestNotAfterByShard(const CaStore& store, uint32_t shards);

// A digest of a shard's listing (serial, revocation time, reason of each entry, in serial order),
// equal for the planned entries and for the CRL that lists exactly them.
using EntriesDigest = std::array<uint8_t, 32>;
EntriesDigest DigestOfEntries(std::span<const pki::CrlEntry> entries);
Result<EntriesDigest> DigestOfCrlEntries(std::span<const uint8_t> crl_der);

}  // namespace ca::engine
