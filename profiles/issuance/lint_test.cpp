#include "profiles/issuance/lint.h"

#include <gtest/gtest.h>

#include "profiles/issuance/testing/test_pki.h"

namespace ca::profiles::issuance {
namespace {

using namespace std::chrono;

class LintTest : public ::testing::Test {
 protected:
  void SetUp() override {
    profile_ = testing::RepoProfile(ProfileId::kSsl);
    request_.organization = testing::TestOrganization();
    request_.names = {"www.example.fr", "example.fr"};
    request_.public_key = testing::Rsa3072(1);
    request_.serial = pki::Serial::Generate();
    request_.now = floor<seconds>(system_clock::now());
  }

  ossl::X509Ptr Build() {
    auto tbs = BuildTbs(profile_, testing::GetTestCa().issuer, request_);
    EXPECT_TRUE(tbs) << tbs.error().message;
    return std::move(*tbs);
  }

  std::vector<LintFinding> Lint(const X509* tbs) {
    return LintTbsFindings(tbs, profile_, testing::GetTestCa().issuer, request_);
  }

  static void ReplaceExt(X509* x, int nid, void* value, bool critical) {
    ASSERT_EQ(X509_add1_ext_i2d(x, nid, value, critical ? 1 : 0, X509V3_ADD_REPLACE), 1);
  }

  // Exactly these rules fired, and each detail contains the given text.
  static void ExpectFindings(const std::vector<LintFinding>& got,
                             const std::vector<std::pair<std::string, std::string>>& want) {
    ASSERT_EQ(got.size(), want.size()) << FormatFindings(got);
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].rule, want[i].first) << FormatFindings(got);
      EXPECT_NE(got[i].detail.find(want[i].second), std::string::npos) << got[i].detail;
    }
  }

  Profile profile_;
  TbsRequest request_;
};

TEST_F(LintTest, CleanTbsAndCertificateHaveNoFindings) {
  auto tbs = Build();
  EXPECT_TRUE(Lint(tbs.get()).empty()) << FormatFindings(Lint(tbs.get()));
  ASSERT_GT(X509_sign(tbs.get(), const_cast<EVP_PKEY*>(testing::GetTestCa().intermediate_key),
                      EVP_sha256()),
            0);
  EXPECT_TRUE(LintCertificate(tbs.get(), profile_, testing::GetTestCa().issuer, request_));
}

TEST_F(LintTest, ShardCertificateNamesItsShardUrlInTheCrlDistributionPoint) {
  request_.crl_url = "http://crl.example.test/crl/int/5.crl";
  auto tbs = Build();
  EXPECT_TRUE(Lint(tbs.get()).empty()) << FormatFindings(Lint(tbs.get()));
  auto* dps = static_cast<CRL_DIST_POINTS*>(
      X509_get_ext_d2i(tbs.get(), NID_crl_distribution_points, nullptr, nullptr));
  ASSERT_NE(dps, nullptr);
  const GENERAL_NAME* uri =
      sk_GENERAL_NAME_value(sk_DIST_POINT_value(dps, 0)->distpoint->name.fullname, 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(
                            ASN1_STRING_get0_data(uri->d.uniformResourceIdentifier))),
            request_.crl_url);
  CRL_DIST_POINTS_free(dps);
  // The lint expects the shard's URL: the issuer's full CRL URL in its place is a finding.
  std::string shard_url = request_.crl_url;
  request_.crl_url.clear();
  auto full = Build();
  request_.crl_url = shard_url;
  ExpectFindings(Lint(full.get()), {{"crl_distribution_points", shard_url}});
  request_.crl_url = "ftp://crl.example.test/5.crl";
  EXPECT_FALSE(BuildTbs(profile_, testing::GetTestCa().issuer, request_));
}

TEST_F(LintTest, SignedCertificateMustCarryTheLintedTbs) {
  const auto& ca = testing::GetTestCa();
  auto tbs = Build();
  auto linted = LintTbs(tbs.get(), profile_, ca.issuer, request_);
  ASSERT_TRUE(linted) << linted.error().message;
  ASSERT_TRUE(linted->certificate);
  EXPECT_EQ(*ossl::CertToDer(linted->certificate.get()), linted->der);
  // Signing the decoded object changes nothing in its TBS: the full lint of the signed
  // certificate agrees with the cheap check.
  ASSERT_GT(X509_sign(linted->certificate.get(), const_cast<EVP_PKEY*>(ca.intermediate_key),
                      EVP_sha256()),
            0);
  EXPECT_TRUE(CheckSignedAsLinted(linted->certificate.get(), *linted));
  EXPECT_TRUE(LintCertificate(linted->certificate.get(), profile_, ca.issuer, request_));

  // A TBS changed after the lint (here its serial) is refused after signing.
  auto again = LintTbs(Build().get(), profile_, ca.issuer, request_);
  ASSERT_TRUE(again);
  ossl::Asn1Integer other(ASN1_INTEGER_new());
  ASSERT_EQ(ASN1_INTEGER_set(other.get(), 4242), 1);
  ASSERT_EQ(X509_set_serialNumber(again->certificate.get(), other.get()), 1);
  ASSERT_GT(X509_sign(again->certificate.get(), const_cast<EVP_PKEY*>(ca.intermediate_key),
                      EVP_sha256()),
            0);
  auto st = CheckSignedAsLinted(again->certificate.get(), *again);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kInternal);
  EXPECT_EQ(st.error().message, "lint: der: the signed TBSCertificate differs from the linted one");
}

TEST_F(LintTest, MissingSan) {
  auto tbs = Build();
  int loc = X509_get_ext_by_NID(tbs.get(), NID_subject_alt_name, -1);
  ASSERT_GE(loc, 0);
  X509_EXTENSION_free(X509_delete_ext(tbs.get(), loc));
  ExpectFindings(Lint(tbs.get()), {{"subject_alt_name", "extension missing"}});
}

TEST_F(LintTest, CaTrue) {
  auto tbs = Build();
  ossl::BasicConstraints bc(BASIC_CONSTRAINTS_new());
  bc->ca = 0xff;
  ReplaceExt(tbs.get(), NID_basic_constraints, bc.get(), true);
  ExpectFindings(Lint(tbs.get()), {{"basic_constraints", "CA:TRUE on a leaf certificate"}});
}

TEST_F(LintTest, NinetyOneDayValidity) {
  auto tbs = Build();
  ASSERT_NE(ASN1_TIME_set(X509_getm_notAfter(tbs.get()),
                          (request_.now + days(91) - seconds(1)).time_since_epoch().count()),
            nullptr);
  ExpectFindings(Lint(tbs.get()),
                 {{"validity", "validity of 7862400 s exceeds the profile's 7776000 s"},
                  {"validity", "differ from the request"}});
}

TEST_F(LintTest, OffByOneSecondValidity) {
  auto tbs = Build();
  ASSERT_NE(ASN1_TIME_set(X509_getm_notAfter(tbs.get()),
                          (request_.now + days(90)).time_since_epoch().count()),
            nullptr);
  ExpectFindings(Lint(tbs.get()),
                 {{"validity", "exceeds the profile"}, {"validity", "(length 7776001 s)"}});
}

TEST_F(LintTest, WrongKeyUsageEkuAndPolicies) {
  auto tbs = Build();
  ossl::Owned<ASN1_BIT_STRING, ASN1_BIT_STRING_free> ku(ASN1_BIT_STRING_new());
  ASN1_BIT_STRING_set_bit(ku.get(), 0, 1);
  ASN1_BIT_STRING_set_bit(ku.get(), 5, 1);  // keyCertSign
  ReplaceExt(tbs.get(), NID_key_usage, ku.get(), false);
  ossl::Owned<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free> eku(EXTENDED_KEY_USAGE_new());
  sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_server_auth));
  sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_client_auth));
  ReplaceExt(tbs.get(), NID_ext_key_usage, eku.get(), false);
  int loc = X509_get_ext_by_NID(tbs.get(), NID_certificate_policies, -1);
  X509_EXTENSION_free(X509_delete_ext(tbs.get(), loc));
  ExpectFindings(Lint(tbs.get()), {{"key_usage", "must be critical"},
                                   {"key_usage", "bit 2 wrong"},
                                   {"key_usage", "bit 5 wrong"},
                                   {"extended_key_usage", "exactly serverAuth"},
                                   {"certificate_policies", "extension missing"}});
}

TEST_F(LintTest, TbsDoesNotMatchTheRequest) {
  auto tbs = Build();
  TbsRequest other = request_;
  other.names = {"www.example.fr"};
  other.serial = pki::Serial::Generate();
  other.public_key = testing::Rsa3072(2);
  other.organization.name = "Autre SA";
  auto findings = LintTbsFindings(tbs.get(), profile_, testing::GetTestCa().issuer, other);
  ExpectFindings(findings, {{"serial", "differs from the reserved serial"},
                            {"subject", "expected [C="},
                            {"public_key", "differs from the CSR's key"},
                            {"subject_alt_name", "names differ from the request's"}});
}

TEST_F(LintTest, WrongUrlsAndIssuer) {
  auto tbs = Build();
  Issuer other = testing::GetTestCa().issuer;
  other.ocsp_url = "http://ocsp.elsewhere.test";
  other.crl_url = "http://crl.elsewhere.test/x.crl";
  auto findings = LintTbsFindings(tbs.get(), profile_, other, request_);
  ExpectFindings(findings, {{"authority_info_access", "OCSP http://ocsp.elsewhere.test"},
                            {"crl_distribution_points", "http://crl.elsewhere.test/x.crl"}});
}

// The lint follows the profile's revocation choices: a certificate of a profile without OCSP and
// CRL must carry neither pointer, and one of a profile with both must carry both.
TEST_F(LintTest, RevocationPointersFollowTheProfile) {
  const auto& ca = testing::GetTestCa();
  Profile short_lived = testing::RepoProfile(ProfileId::kSslShort);
  request_.validity = days(6);  // allowed by both profiles: only the pointers differ
  auto with_pointers = Build();  // SSL: OCSP and CRL
  ExpectFindings(LintTbsFindings(with_pointers.get(), short_lived, ca.issuer, request_),
                 {{"authority_info_access", "must be exactly caIssuers " + ca.issuer.ca_issuers_url},
                  {"extensions", "unexpected extension 2.5.29.31 on a leaf certificate"},
                  {"certificate_policies", "must be exactly"}});
  auto without = BuildTbs(short_lived, ca.issuer, request_);
  ASSERT_TRUE(without) << without.error().message;
  EXPECT_TRUE(LintTbsFindings(without->get(), short_lived, ca.issuer, request_).empty());
  ExpectFindings(Lint(without->get()),
                 {{"authority_info_access", "must be exactly OCSP " + ca.issuer.ocsp_url},
                  {"certificate_policies", "must be exactly"},
                  {"crl_distribution_points", "extension missing"}});
}

TEST_F(LintTest, StagingCertificateWithoutTestCn) {
  auto tbs = Build();  // production profile
  Profile staging = testing::RepoProfile(ProfileId::kSsl, Environment::kStaging);
  auto findings = LintTbsFindings(tbs.get(), staging, testing::GetTestCa().issuer, request_);
  ExpectFindings(findings, {{"subject", "CN=TEST www.example.fr"},
                            {"subject", "without TEST in its CN (CA-8)"},
                            {"certificate_policies",
                             "must be exactly 2.23.140.1.2.2, 1.3.6.1.4.1.32473.9.1.1"}});
}

TEST_F(LintTest, SignatureByAnotherKey) {
  auto tbs = Build();
  ASSERT_GT(X509_sign(tbs.get(), const_cast<EVP_PKEY*>(testing::Rsa3072(2)), EVP_sha256()), 0);
  auto der = ossl::CertToDer(tbs.get());
  ASSERT_TRUE(der);
  auto findings = LintCertificateFindings(*der, profile_, testing::GetTestCa().issuer, request_);
  ExpectFindings(findings, {{"signature", "does not verify with the issuer's key"}});
  auto st = LintCertificate(tbs.get(), profile_, testing::GetTestCa().issuer, request_);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kInternal);
  EXPECT_EQ(st.error().message, "lint: signature: does not verify with the issuer's key");
}

TEST_F(LintTest, UnexpectedExtension) {
  auto tbs = Build();
  ossl::Asn1OctetString junk(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(junk.get(), reinterpret_cast<const unsigned char*>("x"), 1);
  ASSERT_EQ(X509_add1_ext_i2d(tbs.get(), NID_netscape_comment, junk.get(), 0, X509V3_ADD_APPEND),
            1);
  ExpectFindings(Lint(tbs.get()), {{"extensions", "unexpected extension 2.16.840.1.113730.1.13"}});
}

}  // namespace
}  // namespace ca::profiles::issuance
