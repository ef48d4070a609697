#include "gateway/csr.h"

#include <gtest/gtest.h>

#include "gateway/testing/fakes.h"
#include "pki/testing/make_csr.h"
#include "profiles/issuance/testing/test_pki.h"

namespace ca::gateway {
namespace {

using pki::testing::CsrShape;

const EVP_PKEY* Rsa3072() {
  static ossl::Pkey key = std::move(*testing::GenerateKey("RSA3072"));
  return key.get();
}

const profiles::issuance::Profile& Ssl() {
  static const profiles::issuance::Profile profile =
      profiles::issuance::testing::RepoProfile(profiles::policy::ProfileId::kSsl);
  return profile;
}

ProblemOr<pki::CsrFacts> Check(const CsrShape& shape, std::vector<std::string> order,
                               const EVP_PKEY* key = Rsa3072()) {
  auto der = pki::testing::MakeCsrDer(shape, key);
  EXPECT_TRUE(der) << der.error().message;
  return CheckCsr(*der, order, Ssl());
}

void ExpectBadCsr(const ProblemOr<pki::CsrFacts>& result, std::string_view detail) {
  ASSERT_FALSE(result) << "accepted, expected: " << detail;
  EXPECT_EQ(result.error().kind, ProblemKind::kBadCsr);
  EXPECT_EQ(result.error().detail, detail);
}

TEST(GatewayCsr, AcceptsTheOrdersNames) {
  auto csr = Check({{"a.example.com"}, std::vector<std::string>{"DNS:a.example.com", "DNS:B.example.com"}},
                   {"b.example.com", "a.example.com"});
  ASSERT_TRUE(csr) << csr.error().detail;
  EXPECT_EQ(csr->key.bits, 3072);
}

// Defect 1 of issue 13: the engine refuses these, so the gateway must too (badCSR at finalize,
// the order stays ready) instead of sending them on and turning the order invalid.
TEST(GatewayCsr, RefusesWhatTheEngineRefuses) {
  ExpectBadCsr(Check({{"a.example.com", "b.example.com"},
                      std::vector<std::string>{"DNS:a.example.com", "DNS:b.example.com"}},
                     {"a.example.com", "b.example.com"}),
               "CSR refused: the subject has more than one CN");
  ExpectBadCsr(Check({{"c.example.com"}, std::vector<std::string>{"DNS:a.example.com"}}, {"a.example.com"}),
               "CSR refused: the subject CN 'c.example.com' is not among the subjectAltName names");
  ExpectBadCsr(Check({{}, std::vector<std::string>{"DNS:a.example.com."}}, {"a.example.com."}),
               "CSR refused: the name 'a.example.com.' ends with a dot");
  ExpectBadCsr(Check({{}, std::vector<std::string>{"DNS:a.example.com"}}, {"a.example.com", "b.example.com"}),
               "CSR refused: the names differ from the order's; missing: b.example.com");
  ExpectBadCsr(CheckCsr(Bytes{0x30, 0x00}, {"a.example.com"}, Ssl()), "CSR refused: not a DER PKCS#10 request");
}

// Defect 2 of issue 13: the key rule is the profile's (SSL: RSA 3072 only), not a constant; a key
// refusal carries the result code ACME_ORDER_FINALIZE_ERROR.
TEST(GatewayCsr, KeyFollowsTheProfile) {
  auto small = testing::GenerateKey("RSA2048");
  ASSERT_TRUE(small);
  ExpectBadCsr(
      Check({{}, std::vector<std::string>{"DNS:a.example.com"}}, {"a.example.com"}, small->get()),
      "ACME_ORDER_FINALIZE_ERROR: RSA key size 2048 not accepted: the profile requires 3072 bits");
  ExpectBadCsr(
      Check({{}, std::vector<std::string>{"DNS:a.example.com"}}, {"a.example.com"},
            pki::testing::TestEcKey()),
      "ACME_ORDER_FINALIZE_ERROR: key type EC not accepted: the profile requires RSA 3072");
}

}  // namespace
}  // namespace ca::gateway
