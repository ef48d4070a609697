#include "crl_ocsp/status_store.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "crl_ocsp/testing/temp_dir.h"
#include "crl_ocsp/testing/test_pki.h"
#include "pki/crl_builder.h"

namespace ca::crl_ocsp {
namespace {

using namespace std::chrono_literals;

class StatusStoreTest : public ::testing::Test {
 protected:
  testing::TempDir dir;
  testing::Pki pki = testing::MakePki();
  Time now = pki::Now();

  Bytes Response(std::string_view serial, CertStatus status, Time this_update) {
    OcspCertState st{*pki::Serial::FromHex(serial),         status,      this_update,
                     pki::RevocationReason::kKeyCompromise, this_update, this_update + 96h};
    return *BuildOcspResponse(pki.ca.get(), {pki.ocsp_key.get(), pki.ocsp.get()}, st);
  }
  Bytes Crl(uint64_t number, std::vector<pki::CrlEntry> entries = {}) {
    return *pki::BuildCrl({pki.ca.get(), pki.ca_key.get(), number, now, now + 168h, entries});
  }
  // A shard of "http://crl.test/ca1.crl", with its IDP.
  Bytes Shard(uint64_t number, uint32_t shard) {
    pki::CrlRequest r{pki.ca.get(), pki.ca_key.get(), number, now, now + 168h, {}};
    r.distribution_point = *CrlScopeUrl("http://crl.test/ca1.crl", CrlScope::Shard(shard));
    return *pki::BuildCrl(r);
  }
};

TEST_F(StatusStoreTest, CrlNumbersSurviveReopenAndNeverRepeat) {
  {
    auto store = StatusStore::Open({dir.path()});
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE(store->RegisterIssuer("ca1", pki.ca.get()));
    EXPECT_EQ(*store->ReserveCrlNumber("ca1"), 1u);
    EXPECT_EQ(*store->ReserveCrlNumber("ca1"), 2u);  // 2 reserved, never published ("crash")
  }
  auto store = StatusStore::Open({dir.path()});
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->LastReservedCrlNumber("ca1"), 2u);
  uint64_t n = *store->ReserveCrlNumber("ca1");
  EXPECT_EQ(n, 3u);
  auto info = store->PublishCrl("ca1", Crl(n), {});
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->number, 3u);
  // A number that was not reserved is refused, so is re-publishing the same number.
  auto r = store->PublishCrl("ca1", Crl(4), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "CRL number 4 was never reserved");
  EXPECT_EQ(store->PublishCrl("ca1", Crl(3), {}).error().code, ErrorCode::kFailedPrecondition);
  auto current = store->CurrentCrl("ca1");
  ASSERT_TRUE(current && *current);
  EXPECT_EQ(*store->ReserveCrlNumber("ca1"), 4u);
  EXPECT_FALSE(store->ReserveCrlNumber("nope"));
}

TEST_F(StatusStoreTest, ShardsAreSeparateScopesListedAfterTheFullCrl) {
  auto store = StatusStore::Open({dir.path()});
  ASSERT_TRUE(store) << store.error().ToString();
  ASSERT_TRUE(store->RegisterIssuer("ca1", pki.ca.get()));
  ASSERT_TRUE(store->RegisterIssuer("ca1.b", pki.root.get()));
  uint64_t shard7 = *store->ReserveCrlNumber("ca1"), full = *store->ReserveCrlNumber("ca1"),
           shard2 = *store->ReserveCrlNumber("ca1");
  ASSERT_TRUE(store->PublishCrl("ca1", Shard(shard7, 7), {}, CrlScope::Shard(7)));
  ASSERT_TRUE(store->PublishCrl("ca1", Crl(full), {}));
  ASSERT_TRUE(store->PublishCrl("ca1", Shard(shard2, 2), {}, CrlScope::Shard(2),
                                "http://crl.test/ca1/2.crl"));
  // Each scope is guarded against its own current CRL: shard 7 (number 1) may follow with 4, and
  // the full CRL (number 2) refuses 2 again.
  uint64_t next = *store->ReserveCrlNumber("ca1");
  // A CRL of another scope never replaces a shard: no IDP, another shard's IDP, another URL.
  EXPECT_FALSE(store->PublishCrl("ca1", Crl(next), {}, CrlScope::Shard(7)));
  EXPECT_FALSE(store->PublishCrl("ca1", Shard(next, 2), {}, CrlScope::Shard(7)));
  EXPECT_FALSE(store->PublishCrl("ca1", Shard(next, 7), {}, CrlScope::Shard(7),
                                 "http://other.test/ca1/7.crl"));
  EXPECT_FALSE(store->PublishCrl("ca1", Shard(next, 7), {}, CrlScope::Full()));
  ASSERT_TRUE(store->PublishCrl("ca1", Shard(next, 7), {}, CrlScope::Shard(7)));
  EXPECT_FALSE(store->PublishCrl("ca1", Crl(full), {}));
  EXPECT_FALSE(*store->CurrentCrl("ca1", CrlScope::Shard(3)));

  auto txn = kv::Txn::BeginRead(store->env());
  ASSERT_TRUE(txn);
  std::vector<std::pair<std::optional<uint32_t>, uint64_t>> seen;
  ASSERT_TRUE(ForEachCrl(*txn, store->dbs(), "ca1", [&](CrlScope scope, const StoredCrl& c) {
    seen.emplace_back(scope.shard, c.info.number);
    return true;
  }));
  std::vector<std::pair<std::optional<uint32_t>, uint64_t>> expected{
      {std::nullopt, full}, {2u, shard2}, {7u, next}};
  EXPECT_EQ(seen, expected);
  size_t other = 0;
  ASSERT_TRUE(ForEachCrl(*txn, store->dbs(), "ca1.b", [&](CrlScope, const StoredCrl&) {
    ++other;
    return true;
  }));
  EXPECT_EQ(other, 0u);
}

TEST_F(StatusStoreTest, ImportedCrlIsGuardedAndRaisesTheReservedNumber) {
  auto store = StatusStore::Open({dir.path()});
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->RegisterIssuer("root", pki.ca.get()));
  // Numbered by its signer (the ceremony's counter): no reservation needed.
  pki::CrlEntry entry{*pki::Serial::FromHex("7a01"), now - 1h, pki::RevocationReason::kKeyCompromise, {}};
  auto info = store->ImportCrl("root", Crl(7, {entry}), {});
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->number, 7u);
  EXPECT_EQ(info->entries, 1u);
  EXPECT_EQ(*store->LastReservedCrlNumber("root"), 7u);
  // The same guard as PublishCrl: an older number, a dropped entry, another issuer's CRL.
  EXPECT_EQ(store->ImportCrl("root", Crl(7, {entry}), {}).error().code,
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store->ImportCrl("root", Crl(8), {}).error().code, ErrorCode::kFailedPrecondition);
  auto other = testing::MakePki();
  Bytes foreign = *pki::BuildCrl({other.ca.get(), other.ca_key.get(), 9, now, now + 168h, {}});
  EXPECT_FALSE(store->ImportCrl("root", foreign, {}));
  EXPECT_FALSE(store->ImportCrl("unregistered", Crl(9), {}));
  // An import above the reservation raises it, so the next reservation is above the import.
  Bytes crl9 = Crl(9, {entry});
  ASSERT_TRUE(store->ImportCrl("root", crl9, {}));
  EXPECT_EQ(*store->ReserveCrlNumber("root"), 10u);
  auto current = store->CurrentCrl("root");
  ASSERT_TRUE(current && *current);
  EXPECT_EQ(**current, crl9);
  // ...and one below it never moves the reservation back.
  EXPECT_EQ(*store->ReserveCrlNumber("root"), 11u);
  ASSERT_TRUE(store->ImportCrl("root", Crl(10, {entry}), {}));
  EXPECT_EQ(*store->LastReservedCrlNumber("root"), 11u);
}

TEST_F(StatusStoreTest, BatchOfResponsesIsAllOrNothing) {
  auto store = StatusStore::Open({dir.path()});
  ASSERT_TRUE(store->RegisterIssuer("ca1", pki.ca.get()));
  EXPECT_TRUE(store->RegisterIssuer("ca1", pki.ca.get()));  // idempotent
  auto other = testing::MakePki();
  EXPECT_EQ(store->RegisterIssuer("ca1", other.ca.get()).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(store->RegisterIssuer("ca2", pki.ca.get()).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(store->RegisterIssuer("../x", other.ca.get()).error().code,
            ErrorCode::kInvalidArgument);

  Bytes good1 = Response("01", CertStatus::kGood, now);
  Bytes good2 = Response("02", CertStatus::kGood, now);
  Bytes foreign =
      *BuildOcspResponse(other.ca.get(), {other.ocsp_key.get(), other.ocsp.get()},
                         {*pki::Serial::FromHex("03"), CertStatus::kGood, {}, {}, now, now + 1h});
  std::vector<OcspPublication> bad{{good1, now + 30 * 24h}, {foreign, now + 30 * 24h}};
  auto r = store->PutOcspResponses("ca1", bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind("response 1 of the batch: ", 0), 0u) << r.error().message;
  EXPECT_FALSE(*store->Response("ca1", *pki::Serial::FromHex("01")));

  std::vector<OcspPublication> ok{{good1, now + 30 * 24h}, {good2, now + 30 * 24h}};
  ASSERT_TRUE(store->PutOcspResponses("ca1", ok));
  Bytes revoked = Response("02", CertStatus::kRevoked, now + 1s);
  ASSERT_TRUE(
      store->PutOcspResponses("ca1", std::vector<OcspPublication>{{revoked, now + 30 * 24h}}));
  // Older than the stored one: refused.
  EXPECT_EQ(store->PutOcspResponses("ca1", std::vector<OcspPublication>{{good2, now}}).error().code,
            ErrorCode::kFailedPrecondition);

  kv::Txn txn = *kv::Txn::BeginRead(store->env());
  auto h1 = *ComputeIssuerHashes(pki.ca.get(), CertIdHash::kSha1);
  auto h256 = *ComputeIssuerHashes(pki.ca.get(), CertIdHash::kSha256);
  EXPECT_EQ(**FindIssuerName(txn, store->dbs(), CertIdHash::kSha1, h1.name_hash, h1.key_hash),
            "ca1");
  EXPECT_EQ(**FindIssuerName(txn, store->dbs(), CertIdHash::kSha256, h256.name_hash, h256.key_hash),
            "ca1");
  EXPECT_FALSE(*FindIssuerName(txn, store->dbs(), CertIdHash::kSha256, h1.name_hash, h1.key_hash));
  auto rec = *FindResponse(txn, store->dbs(), "ca1", pki::Serial::FromHex("02")->magnitude);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->status, CertStatus::kRevoked);
  EXPECT_EQ(rec->reason, pki::RevocationReason::kKeyCompromise);
  EXPECT_EQ(rec->this_update, now + 1s);
  EXPECT_EQ(rec->next_update, now + 1s + 96h);
  EXPECT_EQ(rec->cert_not_after, now + 30 * 24h);
  EXPECT_EQ(rec->der, AsString(revoked));
  EXPECT_EQ(HexEncode(rec->body_sha256), HexEncode(Sha256(revoked)));
  int count = 0;
  ASSERT_TRUE(ForEachResponse(txn, store->dbs(), "ca1", [&](auto, const StoredResponse&) {
    ++count;
    return true;
  }));
  EXPECT_EQ(count, 2);
  txn.Abort();
  EXPECT_EQ(*store->DeleteOcspResponses(
                "ca1", std::vector<pki::Serial>{*pki::Serial::FromHex("01"), *pki::Serial::FromHex("99")}),
            1u);
}

TEST_F(StatusStoreTest, ReaderNeedsAnInitialisedStore) {
  auto r = StatusReader::Open(dir.path());
  ASSERT_FALSE(r);
  { ASSERT_TRUE(StatusStore::Open({dir.path()})); }
  auto reader = StatusReader::Open(dir.path());
  ASSERT_TRUE(reader) << reader.error().ToString();
  EXPECT_FALSE(kv::Txn::BeginWrite(reader->env()));
}

}  // namespace
}  // namespace ca::crl_ocsp
