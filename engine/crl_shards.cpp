#include "engine/crl_shards.h"

#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "common/encoding.h"
#include "pki/revocation_reason.h"
#include "pki/time.h"

namespace ca::engine {

namespace {

// One line per entry, sorted: the digest does not depend on the order of the input.
EntriesDigest DigestOfLines(std::vector<std::string> lines) {
  std::sort(lines.begin(), lines.end());
  std::string all;
  for (const auto& line : lines) all.append(line).push_back('\n');
  Bytes sha = Sha256(all);
  EntriesDigest out{};
  std::memcpy(out.data(), sha.data(), out.size());
  return out;
}

std::string EntryLine(const pki::Serial& serial, pki::Time revoked_at, int reason) {
  return serial.Hex() + " " + std::to_string(pki::ToUnix(revoked_at)) + " " +
         std::to_string(reason);
}

}  // namespace

std::map<uint32_t, ShardContent> PlanShards(std::span<const CertRecord> revoked, uint32_t shards,
                                            const std::map<uint32_t, pki::Time>& recorded,
                                            const std::map<uint32_t, pki::Time>& current_this_update,
                                            pki::Time now, std::chrono::seconds keep_after_expiry) {
  std::map<uint32_t, ShardContent> plan;
  for (uint32_t k = 0; k < shards; ++k) plan[k];
  for (const auto& [k, latest_not_after] : recorded) {
    if (k >= shards && now < latest_not_after + keep_after_expiry) plan[k];
  }
  for (const CertRecord& rec : revoked) {
    if (rec.state != CertState::kIssued || !rec.revoked || !rec.crl_shard) continue;
    auto shard = plan.find(*rec.crl_shard);
    if (shard == plan.end()) continue;
    auto serial = pki::Serial::FromHex(rec.serial_hex);
    auto reason = pki::ReasonFromCode(rec.reason);
    if (!serial || !reason) continue;  // never recorded: Revoke checks both
    pki::Time not_after = pki::FromUnix(rec.not_after);
    shard->second.not_after[serial->Hex()] = not_after;
    auto current = current_this_update.find(*rec.crl_shard);
    if (current != current_this_update.end() && not_after < current->second) continue;
    shard->second.entries.push_back(
        pki::CrlEntry{std::move(*serial), pki::FromUnix(rec.revoked_at), *reason, std::nullopt});
  }
  return plan;
}

Result<std::map<uint32_t, pki::Time>> LatestNotAfterByShard(const CaStore& store, uint32_t shards) {
  std::map<uint32_t, pki::Time> out;
  CA_TRY_STATUS(store.ForEachIssued([&](const CertRecord& rec) {
    if (!rec.crl_shard || *rec.crl_shard < shards) return;
    pki::Time not_after = pki::FromUnix(rec.not_after);
    auto [it, added] = out.emplace(*rec.crl_shard, not_after);
    if (!added) it->second = std::max(it->second, not_after);
  }));
  return out;
}

EntriesDigest DigestOfEntries(std::span<const pki::CrlEntry> entries) {
  std::vector<std::string> lines;
  lines.reserve(entries.size());
  for (const auto& e : entries) {
    lines.push_back(EntryLine(e.serial, e.revocation_time, pki::ReasonCode(e.reason)));
  }
  return DigestOfLines(std::move(lines));
}

Result<EntriesDigest> DigestOfCrlEntries(std::span<const uint8_t> crl_der) {
  ossl::X509Crl crl = CA_TRY(ossl::CrlFromDer(crl_der));
  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  std::vector<std::string> lines;
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    const X509_REVOKED* entry = sk_X509_REVOKED_value(revoked, i);
    pki::Serial serial = CA_TRY(pki::Serial::FromAsn1(X509_REVOKED_get0_serialNumber(entry)));
    pki::Time at = CA_TRY(pki::FromAsn1Time(X509_REVOKED_get0_revocationDate(entry)));
    int crit = 0;
    ossl::Owned<ASN1_ENUMERATED, ASN1_ENUMERATED_free> reason(static_cast<ASN1_ENUMERATED*>(
        X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &crit, nullptr)));
    long code = reason ? ASN1_ENUMERATED_get(reason.get()) : 0;  // absent: unspecified
    lines.push_back(EntryLine(serial, at, static_cast<int>(code)));
  }
  ossl::DrainErrors();
  return DigestOfLines(std::move(lines));
}

}  // namespace ca::engine
