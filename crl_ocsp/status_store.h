// The status store: what the engine publishes (pre-signed OCSP responses, CRLs, CRL numbers) and
// the status server serves. The store (kv/kv.h): an LMDB directory or a pg: location.
//
// Databases (values are this module's records, host byte order, see store_records.h):
//   issuers       name -> issuer certificate DER
//   issuer_index  hash(1) || issuerNameHash || issuerKeyHash -> name   (SHA-1 and SHA-256 forms)
//   ocsp          name || 0x00 || serial magnitude -> ResponseHeader || response DER
//   crls          name -> CrlHeader || CRL DER (the full CRL);
//                 name || 0x00 || shard (uint32, big endian) -> CrlHeader || CRL DER (a shard)
//   crl_numbers   name -> last reserved CRL number (decimal text)
//
// Writers: StatusStore (the engine, ca-status-publish). Reader: StatusReader (ca-status-server),
// read-only, no keys.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "crl_ocsp/crl_scope.h"
#include "crl_ocsp/ocsp_response.h"
#include "crl_ocsp/publish_guard.h"
#include "crl_ocsp/revocation.h"
#include "kv/group_commit.h"
#include "kv/kv.h"

namespace ca::crl_ocsp {

// A stored OCSP response; `der` points into the map (valid while the read transaction lives).
struct StoredResponse {
  Time this_update{};
  Time next_update{};
  Time cert_not_after{};
  CertStatus status = CertStatus::kGood;
  pki::RevocationReason reason = pki::RevocationReason::kUnspecified;
  std::span<const uint8_t, 32> body_sha256;  // ETag source
  std::string_view der;
};

struct StoredCrl {
  CrlInfo info;
  std::span<const uint8_t, 32> body_sha256;
  std::string_view der;
};

// One response of a batch: the DER from BuildOcspResponse and the certificate's notAfter (after
// which the response may go stale without alarming /health).
struct OcspPublication {
  std::span<const uint8_t> der;
  Time cert_not_after{};
};

// The handles of the open databases; shared by writer and reader.
struct StoreDbs {
  kv::Table issuers = 0, issuer_index = 0, ocsp = 0, crls = 0, crl_numbers = 0;
};

// Lookups inside any transaction (writer's or reader's). Views are valid while `txn` lives.
Result<std::optional<std::string_view>> FindIssuerName(const kv::Txn& txn, const StoreDbs& dbs,
                                                       CertIdHash hash,
                                                       std::span<const uint8_t> name_hash,
                                                       std::span<const uint8_t> key_hash);
Result<std::optional<StoredResponse>> FindResponse(const kv::Txn& txn, const StoreDbs& dbs,
                                                   std::string_view issuer,
                                                   std::span<const uint8_t> serial_magnitude);
Result<std::optional<StoredCrl>> FindCrl(const kv::Txn& txn, const StoreDbs& dbs,
                                         std::string_view issuer, CrlScope scope = {});
// Visits every published CRL of an issuer, the full CRL first, then the shards in ascending
// order, while fn returns true.
Status ForEachCrl(const kv::Txn& txn, const StoreDbs& dbs, std::string_view issuer,
                  const std::function<bool(CrlScope, const StoredCrl&)>& fn);
// Visits every response of an issuer (serial magnitude, record) while fn returns true.
Status ForEachResponse(
    const kv::Txn& txn, const StoreDbs& dbs, std::string_view issuer,
    const std::function<bool(std::span<const uint8_t> serial, const StoredResponse&)>& fn);

struct StoreOptions {
  std::string path;
  size_t map_size = size_t{1} << 34;  // 16 GiB of address space: ~10M responses
};

// Issuer names appear in URLs (/crl/<name>.crl): 1-64 of [A-Za-z0-9._-], not starting with '.'.
Status CheckIssuerName(std::string_view name);

class StatusStore {
 public:
  // Creates the directory and databases if missing.
  static Result<StatusStore> Open(const StoreOptions& options);

  // Records an issuer under a name, indexed by its SHA-1 and SHA-256 CertID hashes. Idempotent
  // for the same certificate; kAlreadyExists if the name or the CertID hashes belong to another.
  Status RegisterIssuer(std::string_view name, const X509* issuer);
  Result<ossl::X509Ptr> Issuer(std::string_view name) const;

  // Stores a batch of responses for one issuer in one transaction, group-committed with the
  // batches of concurrent callers (kv/group_commit.h).
  // Every response is checked first (InspectOcspResponse); one bad response stores nothing.
  // A response older (thisUpdate) than the stored one for the same serial is refused.
  Status PutOcspResponses(std::string_view issuer, std::span<const OcspPublication> batch);
  // Removes responses (certificates long expired). Returns how many existed.
  Result<size_t> DeleteOcspResponses(std::string_view issuer, std::span<const pki::Serial> serials);

  // Reserves the next CRL number durably (committed before it returns): a crash after this
  // call skips the number, never reuses it. Numbers start at 1.
  Result<uint64_t> ReserveCrlNumber(std::string_view issuer);
  // Publishes a CRL after the publish guard (publish_guard.h) against the current one of the
  // same scope, in one transaction. Its number must have been reserved (one sequence per issuer,
  // shared by its scopes: numbers increase within each scope). `not_after` gives the
  // certificates' notAfter for entries of the current CRL that the new one drops.
  // A shard's IDP must name `shard_url` (empty: a URL ending in "/<shard>.crl"); the full CRL has
  // no IDP (CheckCrlScope).
  Result<CrlInfo> PublishCrl(std::string_view issuer, std::span<const uint8_t> der,
                             const NotAfterBySerial& not_after, CrlScope scope = {},
                             std::string_view shard_url = {});
  // Removes a shard that no certificate names any more (the shard count was lowered and its
  // certificates expired). Returns whether it existed. The full CRL is never removed.
  Result<bool> RetireCrlShard(std::string_view issuer, uint32_t shard);
  // Publishes a CRL signed elsewhere (the offline root's CRL from the key ceremony) after the
  // same guard; its number needs no reservation and raises the reserved number if greater.
  Result<CrlInfo> ImportCrl(std::string_view issuer, std::span<const uint8_t> der,
                            const NotAfterBySerial& not_after);

  // Read helpers for the engine (copies).
  Result<std::optional<Bytes>> CurrentCrl(std::string_view issuer, CrlScope scope = {}) const;
  Result<std::optional<Bytes>> Response(std::string_view issuer, const pki::Serial& serial) const;
  Result<uint64_t> LastReservedCrlNumber(std::string_view issuer) const;

  const kv::Env& env() const { return *env_; }
  const StoreDbs& dbs() const { return dbs_; }

 private:
  Status RegisterIssuerOnce(std::string_view name, const X509* issuer, const Bytes& der);
  // Issuers parsed once, with their response inspectors. A registered name never changes
  // certificate (RegisterIssuer), so entries never go stale. Responses are inspected on the
  // publishing thread, before the group commit (the committer's thread only writes).
  struct IssuerEntry {
    ossl::X509Ptr cert;
    std::mutex inspect_mu;  // the inspector remembers verified responders
    std::optional<OcspResponseInspector> inspector;
  };
  struct IssuerCache {
    std::mutex mu;
    std::map<std::string, std::unique_ptr<IssuerEntry>, std::less<>> entries;
  };
  Result<IssuerEntry*> CachedIssuer(std::string_view name);

  enum class CrlNumbering { kReserved, kByItsSigner };
  Result<CrlInfo> Publish(std::string_view issuer, std::span<const uint8_t> der,
                          const NotAfterBySerial& not_after, CrlNumbering numbering,
                          CrlScope scope, std::string_view shard_url = {});
  Status PutOcspResponsesIn(kv::Txn& txn, std::string_view issuer,
                            std::span<const OcspPublication> batch,
                            std::span<const OcspResponseInfo> inspected);
  StatusStore(std::unique_ptr<kv::Env> env, StoreDbs dbs);
  // Heap-held: the committer keeps a reference to the Env while the store moves.
  std::unique_ptr<kv::Env> env_;
  StoreDbs dbs_;
  std::unique_ptr<IssuerCache> issuer_cache_;
  std::unique_ptr<kv::GroupCommitter> committer_;
};

class StatusReader {
 public:
  // Opens an existing store read-only; kNotFound/kFailedPrecondition if it was never written.
  static Result<StatusReader> Open(const std::string& path);
  const kv::Env& env() const { return env_; }
  const StoreDbs& dbs() const { return dbs_; }

 private:
  StatusReader(kv::Env env, StoreDbs dbs) : env_(std::move(env)), dbs_(dbs) {}
  kv::Env env_;
  StoreDbs dbs_;
};

}  // namespace ca::crl_ocsp
