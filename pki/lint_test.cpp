#include "pki/lint.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <functional>

#include "pki/testing/build_test_ca.h"
#include "pki/cert_builder.h"
#include "pki/crl_builder.h"

namespace ca::pki {
namespace {

using namespace std::chrono;
using testing::GetTestCa;

// A copy of `cert` changed by `change` and signed again with `key`.
ossl::X509Ptr Changed(const X509* cert, EVP_PKEY* key, const std::function<void(X509*)>& change) {
  ossl::X509Ptr x(X509_dup(const_cast<X509*>(cert)));
  change(x.get());
  EXPECT_GT(X509_sign(x.get(), key, DigestForKey(key)), 0);
  return x;
}

// Replaces the extension of the same type (or appends it).
void Put(X509* x, Result<ossl::X509Ext> ext) {
  ASSERT_TRUE(ext) << ext.error().message;
  int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext->get()));
  int at = X509_get_ext_by_NID(x, nid, -1);
  if (at >= 0) X509_EXTENSION_free(X509_delete_ext(x, at));
  ASSERT_EQ(X509_add_ext(x, ext->get(), at), 1);
}

void Drop(X509* x, int nid) {
  int at = X509_get_ext_by_NID(x, nid, -1);
  ASSERT_GE(at, 0);
  X509_EXTENSION_free(X509_delete_ext(x, at));
}

void SetCritical(X509* x, int nid, bool critical) {
  X509_EXTENSION_set_critical(X509_get_ext(x, X509_get_ext_by_NID(x, nid, -1)), critical ? 1 : 0);
}

// Exactly these findings (rule, and a part of the detail), in order.
void Expect(const std::vector<LintFinding>& got,
            const std::vector<std::pair<std::string, std::string>>& want) {
  ASSERT_EQ(got.size(), want.size()) << FormatFindings(got);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].rule, want[i].first) << FormatFindings(got);
    EXPECT_NE(got[i].detail.find(want[i].second), std::string::npos) << got[i].detail;
  }
}

TEST(LintRoot, PathLenEkuAndStaging) {
  const auto& ca = GetTestCa();
  EVP_PKEY* key = ca.root_key.get();
  auto root = Changed(ca.root.get(), key, [](X509* x) { Put(x, BasicConstraintsExt(true, 0)); });
  Expect(LintCertificate(root.get(), root.get(), CertRole::kRoot),
         {{"basic_constraints", "pathLenConstraint is 0 (want 1)"}});
  static constexpr int kServerAuth[] = {NID_server_auth};
  root = Changed(ca.root.get(), key, [](X509* x) { Put(x, ExtendedKeyUsageExt(kServerAuth)); });
  Expect(LintCertificate(root.get(), root.get(), CertRole::kRoot),
         {{"extensions", "unexpected extension 2.5.29.37 on a root certificate"}});
  Expect(LintCertificate(ca.root.get(), ca.root.get(), CertRole::kRoot, {.staging = true}),
         {{"subject", "staging certificate without TEST in its CN"}});
  auto status = FindingsStatus(
      LintCertificate(ca.root.get(), ca.root.get(), CertRole::kRoot, {.staging = true}),
      "root.pem");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kInternal);
  EXPECT_EQ(status.error().message,
            "lint: root.pem: subject: staging certificate without TEST in its CN (CA-8)");
}

TEST(LintRoot, ValidityKeyAndSelfIssued) {
  const auto& ca = GetTestCa();
  auto root = Changed(ca.root.get(), ca.root_key.get(), [&](X509* x) {
    ASN1_TIME_set(X509_getm_notAfter(x), (ca.now + days(10000)).time_since_epoch().count());
  });
  Expect(LintCertificate(root.get(), root.get(), CertRole::kRoot),
         {{"validity", "exceeds 9132 for a root"}});
  Expect(LintCertificate(ca.intermediate.get(), ca.root.get(), CertRole::kRoot),
         {{"issuer", "issuer name differs"},
          {"issuer", "a root must be self-issued"},
          {"basic_constraints", "pathLenConstraint is 0 (want 1)"},
          {"extensions", "unexpected extension 2.5.29.37"},
          {"authority_key_identifier", "not the issuer's subjectKeyIdentifier"},
          {"extensions", "unexpected extension 2.5.29.31"},
          {"extensions", "unexpected extension 1.3.6.1.5.5.7.1.1"},
          {"extensions", "unexpected extension 2.5.29.30"},
          {"signature", "does not verify"}});
}

TEST(LintIntermediate, CaFlagKeyAndMissingExtensions) {
  const auto& ca = GetTestCa();
  EVP_PKEY* key = ca.root_key.get();
  auto inter = Changed(ca.intermediate.get(), key, [](X509* x) {
    Put(x, BasicConstraintsExt(false, std::nullopt));
    Drop(x, NID_crl_distribution_points);
    SetCritical(x, NID_name_constraints, false);
  });
  Expect(LintCertificate(inter.get(), ca.root.get(), CertRole::kIntermediate),
         {{"basic_constraints", "CA:FALSE on a CA"},
          {"basic_constraints", "pathLenConstraint missing (want 0)"},
          {"name_constraints", "must be critical"},
          {"crl_distribution_points", "extension missing"}});
  Expect(LintCertificate(ca.ocsp.get(), ca.intermediate.get(), CertRole::kIntermediate),
         {{"public_key", "key type not allowed for a intermediate (EC prime256v1)"},
          {"basic_constraints", "CA:FALSE on a CA"},
          {"basic_constraints", "pathLenConstraint missing (want 0)"},
          {"key_usage", "must be exactly keyCertSign, cRLSign (bit 0 wrong)"},
          {"key_usage", "(bit 5 wrong)"},
          {"key_usage", "(bit 6 wrong)"},
          {"extended_key_usage", "must be exactly serverAuth"},
          {"extensions", "unexpected extension 1.3.6.1.5.5.7.48.1.5"},
          {"crl_distribution_points", "extension missing"},
          {"authority_info_access", "extension missing"}});
  auto late = Changed(ca.intermediate.get(), key, [&](X509* x) {
    ASN1_TIME_set(X509_getm_notAfter(x), (ca.now + days(7100)).time_since_epoch().count());
  });
  Expect(LintCertificate(late.get(), ca.root.get(), CertRole::kIntermediate),
         {{"validity", "exceeds 3653 for a intermediate"},
          {"validity", "notAfter is later than the issuer's notAfter"}});
}

TEST(LintOcspSigner, NoCheckAndEku) {
  const auto& ca = GetTestCa();
  static constexpr int kServerAuth[] = {NID_server_auth};
  auto ocsp = Changed(ca.ocsp.get(), ca.intermediate_key.get(), [](X509* x) {
    Drop(x, NID_id_pkix_OCSP_noCheck);
    Put(x, ExtendedKeyUsageExt(kServerAuth));
  });
  Expect(LintCertificate(ocsp.get(), ca.intermediate.get(), CertRole::kOcspSigner),
         {{"extended_key_usage", "must be exactly OCSPSigning"},
          {"ocsp_nocheck", "extension missing"}});
}

TEST(LintLeaf, CaTrueKeyUsageAndSan) {
  const auto& ca = GetTestCa();
  EVP_PKEY* key = ca.intermediate_key.get();
  static constexpr KeyUsageBit kCertSign[] = {kDigitalSignature, kKeyCertSign};
  auto leaf = Changed(ca.leaf.get(), key, [](X509* x) {
    Put(x, BasicConstraintsExt(true, std::nullopt));
    Put(x, KeyUsageExt(kCertSign));
    SetCritical(x, NID_subject_alt_name, true);
  });
  Expect(LintCertificate(leaf.get(), ca.intermediate.get(), CertRole::kLeaf),
         {{"basic_constraints", "CA:TRUE on a leaf certificate"},
          {"key_usage", "must be exactly digitalSignature (bit 5 wrong)"},
          {"subject_alt_name", "must not be critical"}});
  std::vector<std::string> outside{"www.other.test"};
  leaf = Changed(ca.leaf.get(), key, [&](X509* x) { Put(x, SubjectAltNameExt(outside)); });
  Expect(LintCertificate(leaf.get(), ca.intermediate.get(), CertRole::kLeaf),
         {{"subject_alt_name", "not allowed by the issuer's name constraints"}});
  leaf = Changed(ca.leaf.get(), key, [](X509* x) { Drop(x, NID_subject_alt_name); });
  Expect(LintCertificate(leaf.get(), ca.intermediate.get(), CertRole::kLeaf),
         {{"subject_alt_name", "extension missing"}});
}

TEST(LintLeaf, SerialKeyIdsSignatureAndDuplicates) {
  const auto& ca = GetTestCa();
  EVP_PKEY* key = ca.intermediate_key.get();
  Bytes wrong_id(20, 0x11);
  auto leaf = Changed(ca.leaf.get(), key, [&](X509* x) {
    ossl::Asn1Integer one(ASN1_INTEGER_new());
    ASN1_INTEGER_set(one.get(), 1);
    X509_set_serialNumber(x, one.get());
    Put(x, SubjectKeyIdExt(wrong_id));
    Put(x, AuthorityKeyIdExt(wrong_id));
    ASSERT_EQ(X509_add_ext(x, X509_get_ext(x, X509_get_ext_by_NID(x, NID_ext_key_usage, -1)), -1),
              1);
  });
  Expect(LintCertificate(leaf.get(), ca.intermediate.get(), CertRole::kLeaf),
         {{"serial", "shorter than 16 octets (1)"},
          {"extensions", "an extension does not parse"},  // OpenSSL flags duplicates so
          {"subject_key_identifier", "not the SHA-1 of the subject public key"},
          {"authority_key_identifier", "not the issuer's subjectKeyIdentifier"},
          {"subject_alt_name", "an extension does not parse"},
          {"extensions", "duplicate extension extendedKeyUsage"}});
  auto forged = Changed(ca.leaf.get(), ca.root_key.get(), [](X509*) {});
  Expect(LintCertificate(forged.get(), ca.intermediate.get(), CertRole::kLeaf),
         {{"signature", "does not verify with the issuer's key"}});
}

TEST(LintLeaf, ExpectationsFromTheRequest) {
  const auto& ca = GetTestCa();
  LeafExpectations e;
  const ASN1_INTEGER* s = X509_get0_serialNumber(ca.leaf.get());
  e.serial = *Serial::FromAsn1(s);
  e.not_before = ca.now - hours(1);
  e.not_after = ca.now + days(90);
  e.max_validity = days(100);
  e.subject = {{NID_countryName, "FR"},
               {NID_organizationName, "Test PKI"},
               {NID_commonName, "www.example.test"}};
  e.public_key = ca.leaf_key.get();
  e.dns_names = {"www.example.test"};
  e.signature_nid = NID_sha256WithRSAEncryption;
  e.ocsp_url = "http://ocsp.example.test";
  e.ca_issuers_url = "http://ca.example.test/i.cer";
  e.crl_url = "http://crl.example.test/i.crl";
  e.policy_oids = {"2.23.140.1.2.2"};
  Expect(LintCertificate(ca.leaf.get(), ca.intermediate.get(), CertRole::kLeaf, {.expect = &e}),
         {{"subject_alt_name", "holds a name that is not a dNSName"},
          {"authority_info_access", "extension missing"},
          {"crl_distribution_points", "extension missing"},
          {"certificate_policies", "extension missing"}});
  e.serial = Serial{{0x42}};
  e.public_key = ca.ocsp_key.get();
  e.not_after -= seconds(1);
  e.subject.pop_back();
  e.check_names = [](const std::vector<std::string>&) -> Status {
    return Fail(ErrorCode::kInvalidArgument, "names refused");
  };
  auto findings =
      LintCertificate(ca.leaf.get(), ca.intermediate.get(), CertRole::kLeaf, {.expect = &e});
  Expect({findings.begin(), findings.begin() + 6}, {{"serial", "differs from the reserved serial"},
                                                    {"validity", "differ from the request"},
                                                    {"subject", "expected [C=FR, O=Test PKI]"},
                                                    {"public_key", "differs from the CSR's key"},
                                                    {"subject_alt_name", "not a dNSName"},
                                                    {"subject_alt_name", "names refused"}});
}

TEST(LintTbs, SignedMustCarryTheLintedTbs) {
  const auto& ca = GetTestCa();
  ossl::X509Name subject =
      *BuildName(std::vector<NameAttribute>{{"C", "FR", MBSTRING_ASC}, {"CN", "www.example.test"}});
  ossl::Asn1Integer serial = testing::SerialOf(16);
  auto tbs = BuildUnsignedCertificate(testing::LeafDescription(ca, subject.get(), serial.get()),
                                      NID_sha256WithRSAEncryption);
  ASSERT_TRUE(tbs);
  auto linted = LintTbs(tbs->get(), ca.intermediate.get(), CertRole::kLeaf);
  ASSERT_TRUE(linted) << linted.error().message;
  ASSERT_GT(X509_sign(linted->certificate.get(), ca.intermediate_key.get(), EVP_sha256()), 0);
  EXPECT_TRUE(CheckSignedAsLinted(linted->certificate.get(), *linted));
  EXPECT_TRUE(
      LintCertificate(linted->certificate.get(), ca.intermediate.get(), CertRole::kLeaf).empty());
  ossl::Asn1Integer other = testing::SerialOf(16);
  X509_set_serialNumber(linted->certificate.get(), other.get());
  ASSERT_GT(X509_sign(linted->certificate.get(), ca.intermediate_key.get(), EVP_sha256()), 0);
  auto st = CheckSignedAsLinted(linted->certificate.get(), *linted);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "lint: der: the signed TBSCertificate differs from the linted one");
}

TEST(LintCrl, GoodAndBad) {
  const auto& ca = GetTestCa();
  std::vector<CrlEntry> entries{{Serial{Bytes{0x0a, 0xbc}}, ca.now - hours(1), RevocationReason::kKeyCompromise, std::nullopt}};
  auto der = BuildCrl({ca.root.get(), ca.root_key.get(), 7, ca.now, ca.now + days(30), entries});
  ASSERT_TRUE(der);
  auto crl = ossl::CrlFromDer(*der);
  EXPECT_TRUE(LintCrl(crl->get(), ca.root.get()).empty());
  Expect(LintCrl(crl->get(), ca.intermediate.get()),
         {{"issuer", "CRL issuer differs"},
          {"signature", "CRL signature does not verify"},
          {"authority_key_identifier", "not the issuer's subjectKeyIdentifier"}});
  auto long_crl = BuildCrl({ca.leaf.get(), ca.leaf_key.get(), 1, ca.now, ca.now + days(401), {}});
  ASSERT_TRUE(long_crl);
  auto parsed = ossl::CrlFromDer(*long_crl);
  Expect(LintCrl(parsed->get(), ca.leaf.get()),
         {{"crl_validity", "more than 400 days"}, {"key_usage", "lacks cRLSign"}});
}

}  // namespace
}  // namespace ca::pki
