#include "crl_ocsp/publish_guard.h"

#include <gtest/gtest.h>

#include "crl_ocsp/testing/test_pki.h"
#include "pki/cert_builder.h"
#include "pki/crl_builder.h"

namespace ca::crl_ocsp {
namespace {

using namespace std::chrono_literals;

class PublishGuard : public ::testing::Test {
 protected:
  testing::Pki pki = testing::MakePki();
  Time now = pki::Now();
  pki::CrlEntry a{*pki::Serial::FromHex("0a"), now - 48h, pki::RevocationReason::kKeyCompromise, std::nullopt};
  pki::CrlEntry b{*pki::Serial::FromHex("0b"), now - 48h, pki::RevocationReason::kUnspecified, std::nullopt};

  Bytes Crl(uint64_t number, Time this_update, std::vector<pki::CrlEntry> entries) {
    return *pki::BuildCrl(
        {pki.ca.get(), pki.ca_key.get(), number, this_update, this_update + 168h, entries});
  }
};

TEST_F(PublishGuard, AcceptsFirstAndNextCrl) {
  Bytes first = Crl(1, now - 24h, {a, b});
  auto i1 = CheckCrlPublish(first, std::nullopt, pki.ca.get(), {});
  ASSERT_TRUE(i1) << i1.error().ToString();
  EXPECT_EQ(i1->number, 1u);
  EXPECT_EQ(i1->entries, 2u);
  Bytes second = Crl(2, now, {a, b});
  EXPECT_TRUE(CheckCrlPublish(second, first, pki.ca.get(), {}));
}

TEST_F(PublishGuard, RefusesNumberNotIncreasing) {
  Bytes current = Crl(5, now - 1h, {a});
  for (uint64_t n : {5u, 4u}) {
    auto r = CheckCrlPublish(Crl(n, now, {a}), current, pki.ca.get(), {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_EQ(r.error().message,
              "CRL number " + std::to_string(n) + " is not greater than the current 5");
  }
}

TEST_F(PublishGuard, RefusesOlderThisUpdate) {
  Bytes current = Crl(5, now, {a});
  auto r = CheckCrlPublish(Crl(6, now - 1h, {a}), current, pki.ca.get(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "CRL thisUpdate is older than the current CRL's");
}

TEST_F(PublishGuard, RefusesWrongSignature) {
  // Same issuer name, another key: BuildCrl checks its own output, so use an impostor CA cert.
  auto other = testing::MakeEcKey();
  auto impostor = testing::MakeCert({"Test Issuing CA", true, false, 2, 30}, other.get(),
                                    pki.root.get(), pki.root_key.get());
  Bytes forged = *pki::BuildCrl({impostor.get(), other.get(), 1, now, now + 24h, {}});
  auto r = CheckCrlPublish(forged, std::nullopt, pki.ca.get(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCrypto);
  EXPECT_EQ(r.error().message, "new CRL signature does not verify under the issuer key");
  Bytes garbage{0x30, 0x03, 0x02, 0x01};
  EXPECT_EQ(CheckCrlPublish(garbage, std::nullopt, pki.ca.get(), {}).error().code,
            ErrorCode::kInvalidArgument);
}

TEST_F(PublishGuard, EntriesLeaveOnlyAfterACrlIssuedPastExpiry) {
  Bytes current = Crl(5, now - 1h, {a, b});
  Bytes without_b = Crl(6, now, {a});
  // Unknown expiry: refused.
  auto r1 = CheckCrlPublish(without_b, current, pki.ca.get(), {});
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().message, "CRL drops serial 0b whose certificate expiry is unknown");
  // Certificate still valid: refused.
  auto r2 = CheckCrlPublish(without_b, current, pki.ca.get(), {{"0b", now + 24h}});
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().message,
            "CRL drops serial 0b before a CRL issued after the certificate's expiry listed it");
  // Expired, but the current CRL was issued before expiry: refused.
  auto r3 = CheckCrlPublish(without_b, current, pki.ca.get(), {{"0b", now - 30min}});
  ASSERT_FALSE(r3);
  // Expired before the current CRL was issued: it may leave.
  EXPECT_TRUE(CheckCrlPublish(without_b, current, pki.ca.get(), {{"0b", now - 2h}}));
}

// The IDP must fit the scope: none on the full CRL; on a shard critical, onlyContainsUserCerts,
// naming the expected URL (or, without one, a URL of that shard number).
TEST_F(PublishGuard, IssuingDistributionPointMustFitTheScope) {
  auto shard_crl = [&](uint64_t number, std::string url) {
    pki::CrlRequest r{pki.ca.get(), pki.ca_key.get(), number, now, now + 24h, {}};
    r.distribution_point = std::move(url);
    return *pki::BuildCrl(r);
  };
  const std::string url3 = "http://crl.test/crl/ca/3.crl";
  Bytes shard3 = shard_crl(1, url3);
  Bytes full = Crl(1, now, {a});
  EXPECT_TRUE(CheckCrlPublish(shard3, std::nullopt, pki.ca.get(), {}, CrlScope::Shard(3), url3));
  EXPECT_TRUE(CheckCrlPublish(shard3, std::nullopt, pki.ca.get(), {}, CrlScope::Shard(3)));
  EXPECT_TRUE(CheckCrlPublish(full, std::nullopt, pki.ca.get(), {}));
  auto message = [&](std::span<const uint8_t> der, CrlScope scope, std::string_view url = {}) {
    auto r = CheckCrlPublish(der, std::nullopt, pki.ca.get(), {}, scope, url);
    EXPECT_FALSE(r);
    if (r) return std::string();
    EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
    return r.error().message;
  };
  EXPECT_EQ(message(shard3, CrlScope::Full()),
            "the full CRL must have no issuingDistributionPoint");
  EXPECT_EQ(message(full, CrlScope::Shard(3), url3), "CRL shard 3 has no issuingDistributionPoint");
  EXPECT_EQ(message(shard3, CrlScope::Shard(3), "http://crl.test/crl/ca/4.crl"),
            "CRL shard 3: issuingDistributionPoint names " + url3 +
                ", expected http://crl.test/crl/ca/4.crl");
  EXPECT_EQ(message(shard3, CrlScope::Shard(13)),
            "CRL shard 13: issuingDistributionPoint names " + url3 +
                ", not a URL of this shard (ending in /13.crl)");
}

// A non-critical IDP (hand-made with OpenSSL: BuildCrl only writes critical ones) is refused.
TEST_F(PublishGuard, RefusesNonCriticalIssuingDistributionPoint) {
  ossl::X509Crl crl(X509_CRL_new());
  ASSERT_TRUE(crl);
  ossl::X509Ext idp = *pki::IssuingDistributionPointExt("http://crl.test/crl/ca/3.crl");
  X509_EXTENSION_set_critical(idp.get(), 0);
  ASSERT_EQ(X509_CRL_add_ext(crl.get(), idp.get(), -1), 1);
  auto r = CheckCrlScope(crl.get(), CrlScope::Shard(3));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "CRL shard 3: issuingDistributionPoint is not critical");
}

}  // namespace
}  // namespace ca::crl_ocsp
