#include "crl_ocsp/publish_guard.h"

#include <gtest/gtest.h>

#include "crl_ocsp/testing/test_pki.h"
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

}  // namespace
}  // namespace ca::crl_ocsp
