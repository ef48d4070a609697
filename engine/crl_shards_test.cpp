#include "engine/crl_shards.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "crl_ocsp/publish_guard.h"
#include "engine/ca_instance.h"
#include "engine/testing/engine_fixture.h"
#include "profiles/issuance/testing/test_pki.h"

namespace ca::engine {
namespace {

using engine::api::IssueResponse;
using pki::RevocationReason;
using std::chrono::hours;
using std::chrono::seconds;

CertRecord Revoked(std::string serial, uint32_t shard, pki::Time not_after, pki::Time revoked_at) {
  CertRecord r;
  r.serial_hex = std::move(serial);
  r.state = CertState::kIssued;
  r.revoked = true;
  r.revoked_at = pki::ToUnix(revoked_at);
  r.reason = 1;
  r.not_after = pki::ToUnix(not_after);
  r.crl_shard = shard;
  return r;
}

TEST(PlanShards, EveryConfiguredShardAndOlderShardsUntilTheirCertificatesExpire) {
  pki::Time now = pki::FromUnix(1'800'000'000);
  std::vector<CertRecord> revoked{
      Revoked("01", 0, now + hours(24), now - hours(1)),
      Revoked("02", 2, now + hours(24), now - hours(2)),
      Revoked("03", 5, now + hours(24), now - hours(3)),  // shard 5: a larger count earlier
      Revoked("04", 2, now - hours(2), now - hours(30)),  // expired before shard 2's current CRL
      Revoked("05", 9, now + hours(24), now - hours(3)),  // shard 9: its certificates long expired
  };
  revoked.push_back(revoked[0]);
  revoked.back().serial_hex = "06";
  revoked.back().crl_shard.reset();  // issued before sharding: the full CRL only
  std::map<uint32_t, pki::Time> recorded{{5, now + hours(24)}, {9, now - hours(200)}};
  std::map<uint32_t, pki::Time> current{{2, now - hours(1)}};
  auto plan = PlanShards(revoked, 4, recorded, current, now, hours(168));
  std::vector<uint32_t> shards;
  for (const auto& [k, content] : plan) shards.push_back(k);
  EXPECT_EQ(shards, (std::vector<uint32_t>{0, 1, 2, 3, 5}));
  ASSERT_EQ(plan[0].entries.size(), 1u);
  EXPECT_EQ(plan[0].entries[0].serial.Hex(), "01");
  EXPECT_EQ(plan[0].entries[0].reason, RevocationReason::kKeyCompromise);
  EXPECT_TRUE(plan[1].entries.empty());
  ASSERT_EQ(plan[2].entries.size(), 1u);  // 04 left: its shard's CRL was issued after expiry
  EXPECT_EQ(plan[2].entries[0].serial.Hex(), "02");
  EXPECT_EQ(plan[2].not_after.count("04"), 1u);  // the guard may check it
  ASSERT_EQ(plan[5].entries.size(), 1u);
  // Without a current CRL the expired certificate is still listed once.
  auto first = PlanShards(revoked, 4, recorded, {}, now, hours(168));
  EXPECT_EQ(first[2].entries.size(), 2u);
}

TEST(EntriesDigest, SameForThePlannedEntriesAndTheCrlListingThem) {
  const auto& ca = profiles::issuance::testing::GetTestCa();
  pki::Time now = pki::FromUnix(pki::ToUnix(pki::Now()));
  std::vector<pki::CrlEntry> entries{
      {*pki::Serial::FromHex("0b"), now - hours(1), RevocationReason::kUnspecified, std::nullopt},
      {*pki::Serial::FromHex("0a"), now - hours(2), RevocationReason::kKeyCompromise, std::nullopt}};
  auto der = pki::BuildCrl({ca.issuer.certificate, const_cast<EVP_PKEY*>(ca.intermediate_key), 1,
                            now, now + hours(24), entries});
  ASSERT_TRUE(der) << der.error().ToString();
  auto from_crl = DigestOfCrlEntries(*der);
  ASSERT_TRUE(from_crl) << from_crl.error().ToString();
  EXPECT_EQ(*from_crl, DigestOfEntries(entries));
  entries[0].reason = RevocationReason::kSuperseded;
  EXPECT_NE(*from_crl, DigestOfEntries(entries));
}

// A CaInstance with 4 CRL shards and a test clock.
class CrlShardJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    world_ = testing::MakePolicyWorld(dir_.Sub("policy"));
    Open(4);
  }
  void Open(uint32_t shards) {
    inst_.reset();
    auto opt = testing::MakeInstanceOptions(dir_);
    opt.freshness.crl_revocation_delay = seconds(0);
    opt.crl_shards = shards;
    auto inst = CaInstance::Open(opt, testing::MakeSoftwareKeys(), nullptr);
    ASSERT_TRUE(inst) << inst.error().ToString();
    inst_ = std::move(*inst);
    inst_->SetStatusJobClock({[this] { return wall_; }, [this] { return mono_; }});
  }
  std::string Issue(const std::string& id) {
    keys_.push_back(testing::FreshRsaKey());  // a key is certified once
    auto snap = world_.store->Snapshot();
    EXPECT_TRUE(snap);
    auto r = inst_->Issue(
        testing::MakeIssueRequest(id, world_.kid, {id + ".example.fr"}, keys_.back().get()), *snap);
    EXPECT_TRUE(std::holds_alternative<IssueResponse>(r));
    return std::holds_alternative<IssueResponse>(r) ? std::get<IssueResponse>(r).serial_hex : "";
  }
  std::optional<ossl::Bytes> Shard(uint32_t k) {
    auto der = inst_->status_store().CurrentCrl(inst_->issuer_name(), crl_ocsp::CrlScope::Shard(k));
    EXPECT_TRUE(der);
    return der ? *der : std::nullopt;
  }
  std::string CrlDpOf(const std::string& serial) {
    auto rec = inst_->store().FindCert(serial);
    auto cert = ossl::CertFromDer((*rec)->der);
    auto* dps = static_cast<CRL_DIST_POINTS*>(
        X509_get_ext_d2i(cert->get(), NID_crl_distribution_points, nullptr, nullptr));
    const GENERAL_NAME* uri =
        sk_GENERAL_NAME_value(sk_DIST_POINT_value(dps, 0)->distpoint->name.fullname, 0);
    std::string out(reinterpret_cast<const char*>(
        ASN1_STRING_get0_data(uri->d.uniformResourceIdentifier)));
    CRL_DIST_POINTS_free(dps);
    return out;
  }
  // The jobs' clock never behind the real one (revocations are dated by the real clock).
  void Run() {
    wall_ = std::max(wall_, pki::Now()) + seconds(1);
    mono_ += seconds(61);
    auto s = inst_->RunStatusJobs();
    ASSERT_TRUE(s) << s.error().ToString();
  }

  testing::TempDir dir_;
  testing::PolicyWorld world_;
  std::unique_ptr<CaInstance> inst_;
  std::vector<ossl::Pkey> keys_;
  pki::Time wall_ = pki::Now();
  MonoTime mono_ = std::chrono::steady_clock::now();
};

TEST_F(CrlShardJobTest, CertificatesNameTheirShardAndOnlyChangedShardsAreResigned) {
  std::vector<std::string> serials;
  for (int i = 0; i < 8; ++i) serials.push_back(Issue("shard-" + std::to_string(i)));
  const std::string full_url = testing::MakeInstanceOptions(dir_).crl_url;
  std::map<uint32_t, std::vector<std::string>> by_shard;
  for (const auto& serial : serials) {
    auto rec = inst_->store().FindCert(serial);
    ASSERT_TRUE(rec && *rec);
    ASSERT_TRUE((*rec)->crl_shard);
    uint32_t k = *(*rec)->crl_shard;
    EXPECT_EQ(k, *CrlShardOf(*pki::Serial::FromHex(serial), 4));
    EXPECT_EQ(CrlDpOf(serial), *crl_ocsp::CrlScopeUrl(full_url, crl_ocsp::CrlScope::Shard(k)));
    by_shard[k].push_back(serial);
  }

  Run();  // the full CRL and the 4 shards, all empty
  EXPECT_EQ(inst_->status_jobs().crl_shards_signed, 4u);
  std::map<uint32_t, ossl::Bytes> before;
  for (uint32_t k = 0; k < 4; ++k) {
    auto der = Shard(k);
    ASSERT_TRUE(der) << "shard " << k;
    auto crl = ossl::CrlFromDer(*der);
    auto idp = pki::ReadIssuingDistributionPoint(crl->get());
    ASSERT_TRUE(idp && *idp);
    EXPECT_EQ((*idp)->url, *crl_ocsp::CrlScopeUrl(full_url, crl_ocsp::CrlScope::Shard(k)));
    EXPECT_TRUE((*idp)->critical);
    before[k] = *der;
  }
  Run();  // nothing changed: nothing re-signed
  EXPECT_EQ(inst_->status_jobs().crl_shards_signed, 4u);

  const std::string victim = serials[0];
  uint32_t victim_shard = *CrlShardOf(*pki::Serial::FromHex(victim), 4);
  ASSERT_EQ(inst_->Revoke({victim, RevocationReason::kKeyCompromise, "ra:test", false, {}}).index(),
            1u);
  Run();
  EXPECT_EQ(inst_->status_jobs().crl_shards_signed, 5u);
  for (uint32_t k = 0; k < 4; ++k) {
    auto der = Shard(k);
    ASSERT_TRUE(der);
    auto info = crl_ocsp::InspectCrl(*der, inst_->issuer_cert());
    ASSERT_TRUE(info);
    if (k == victim_shard) {
      EXPECT_NE(*der, before[k]);
      EXPECT_EQ(info->entries, 1u);
    } else {
      EXPECT_EQ(*der, before[k]) << "shard " << k << " re-signed without a change";
      EXPECT_EQ(info->entries, 0u);
    }
  }
  auto full = inst_->status_store().CurrentCrl(inst_->issuer_name());
  EXPECT_EQ(crl_ocsp::InspectCrl(**full, inst_->issuer_cert())->entries, 1u);

  // Past half of their validity: every shard is re-signed, the same content.
  wall_ += testing::MakeInstanceOptions(dir_).freshness.crl_validity / 2;
  Run();
  EXPECT_EQ(inst_->status_jobs().crl_shards_signed, 9u);

  // One shard from now on: shards 1..3 are still published while their certificates live, and a
  // revocation in one of them reaches it.
  Open(1);
  Run();
  uint64_t signed_after_reopen = inst_->status_jobs().crl_shards_signed;
  EXPECT_EQ(signed_after_reopen, 0u);  // nothing changed, nothing is due
  std::string old_cert;
  for (uint32_t k = 1; k < 4 && old_cert.empty(); ++k) {
    if (!by_shard[k].empty() && k != victim_shard) old_cert = by_shard[k][0];
  }
  if (old_cert.empty()) GTEST_SKIP() << "every certificate landed in shard 0 or the victim's";
  uint32_t old_shard = *CrlShardOf(*pki::Serial::FromHex(old_cert), 4);
  ASSERT_EQ(
      inst_->Revoke({old_cert, RevocationReason::kSuperseded, "ra:test", false, {}}).index(), 1u);
  Run();
  auto der = Shard(old_shard);
  ASSERT_TRUE(der);
  EXPECT_EQ(crl_ocsp::InspectCrl(*der, inst_->issuer_cert())->entries, 1u);
  EXPECT_EQ(inst_->status_jobs().crl_shards_signed, 1u);
  std::string fresh = Issue("after-reopen");
  EXPECT_EQ(CrlDpOf(fresh), *crl_ocsp::CrlScopeUrl(full_url, crl_ocsp::CrlScope::Shard(0)));
}

}  // namespace
}  // namespace ca::engine
