#include "pki/cert_builder.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "pki/testing/build_test_ca.h"
#include "pki/lint.h"

namespace ca::pki {
namespace {

using namespace std::chrono;

int Verify(const X509* leaf, const char* host = nullptr) {
  const auto& ca = testing::GetTestCa();
  ossl::X509Store store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.root.get());
  STACK_OF(X509)* chain = sk_X509_new_null();
  sk_X509_push(chain, ca.intermediate.get());
  ossl::X509StoreCtx ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), const_cast<X509*>(leaf), chain);
  if (host != nullptr) X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx.get()), host, 0);
  int rc = X509_verify_cert(ctx.get()) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx.get());
  sk_X509_free(chain);
  return rc;
}

TEST(CertBuilder, EveryRoleVerifiesAndLintsClean) {
  const auto& ca = testing::GetTestCa();
  EXPECT_EQ(Verify(ca.ocsp.get()), X509_V_OK);
  EXPECT_EQ(Verify(ca.leaf.get(), "www.example.test"), X509_V_OK);
  struct Case {
    const X509* cert;
    const X509* issuer;
    CertRole role;
  } cases[] = {{ca.root.get(), ca.root.get(), CertRole::kRoot},
               {ca.intermediate.get(), ca.root.get(), CertRole::kIntermediate},
               {ca.ocsp.get(), ca.intermediate.get(), CertRole::kOcspSigner},
               {ca.leaf.get(), ca.intermediate.get(), CertRole::kLeaf}};
  for (const Case& c : cases) {
    auto findings = LintCertificate(c.cert, c.issuer, c.role);
    EXPECT_TRUE(findings.empty()) << CertRoleName(c.role) << ": " << FormatFindings(findings);
  }
}

TEST(CertBuilder, RootFields) {
  const auto& ca = testing::GetTestCa();
  X509* root = ca.root.get();
  EXPECT_EQ(X509_get_version(root), X509_VERSION_3);
  EXPECT_EQ(X509_get_signature_nid(root), NID_ecdsa_with_SHA384);  // DigestForKey(P-384)
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(root), X509_get_issuer_name(root)), 0);
  EXPECT_EQ(X509_get_key_usage(root), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(root), X509_get0_subject_key_id(root)),
            0);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSERT_EQ(X509_pubkey_digest(root, EVP_sha1(), md, &len), 1);
  EXPECT_EQ(*KeyIdentifierOf(ca.root_key.get()), Bytes(md, md + len));
  // The C attribute is a PrintableString, the others UTF8String.
  const X509_NAME* name = X509_get_subject_name(root);
  EXPECT_EQ(ASN1_STRING_type(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, 0))),
            V_ASN1_PRINTABLESTRING);
  EXPECT_EQ(ASN1_STRING_type(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, 2))),
            V_ASN1_UTF8STRING);
}

TEST(CertBuilder, IntermediateAndLeafExtensions) {
  const auto& ca = testing::GetTestCa();
  int crit = 0;
  ossl::Owned<NAME_CONSTRAINTS, NAME_CONSTRAINTS_free> nc(static_cast<NAME_CONSTRAINTS*>(
      X509_get_ext_d2i(ca.intermediate.get(), NID_name_constraints, &crit, nullptr)));
  ASSERT_TRUE(nc);
  EXPECT_EQ(crit, 1);
  EXPECT_EQ(sk_GENERAL_SUBTREE_num(nc->permittedSubtrees), 1);
  EXPECT_EQ(sk_GENERAL_SUBTREE_num(nc->excludedSubtrees), 1);
  EXPECT_EQ(X509_get_extended_key_usage(ca.ocsp.get()), static_cast<uint32_t>(XKU_OCSP_SIGN));
  EXPECT_GE(X509_get_ext_by_NID(ca.ocsp.get(), NID_id_pkix_OCSP_noCheck, -1), 0);
  ossl::GeneralNames san(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(ca.leaf.get(), NID_subject_alt_name, &crit, nullptr)));
  ASSERT_EQ(sk_GENERAL_NAME_num(san.get()), 2);
  EXPECT_EQ(sk_GENERAL_NAME_value(san.get(), 0)->type, GEN_DNS);
  EXPECT_EQ(sk_GENERAL_NAME_value(san.get(), 1)->type, GEN_IPADD);
  EXPECT_EQ(crit, 0);
  EXPECT_EQ(X509_check_ip_asc(ca.leaf.get(), "10.0.0.1", 0), 1);
}

TEST(CertBuilder, UnsignedCertificateAnnouncesItsAlgorithm) {
  const auto& ca = testing::GetTestCa();
  ossl::X509Name subject = *BuildName(std::vector<NameAttribute>{{"CN", "www.example.test"}});
  ossl::Asn1Integer serial = testing::SerialOf(18);
  auto tbs = BuildUnsignedCertificate(LeafDescription(ca, subject.get(), serial.get()),
                                      NID_sha256WithRSAEncryption);
  ASSERT_TRUE(tbs) << tbs.error().message;
  const ASN1_OBJECT* oid = nullptr;
  int param_type = 0;
  X509_ALGOR_get0(&oid, &param_type, nullptr, X509_get0_tbs_sigalg(tbs->get()));
  EXPECT_EQ(OBJ_obj2nid(oid), NID_sha256WithRSAEncryption);
  EXPECT_EQ(param_type, V_ASN1_NULL);
  EXPECT_TRUE(ossl::CertToDer(tbs->get()));  // encodable before signing
}

TEST(CertBuilder, RefusesBadDescriptions) {
  const auto& ca = testing::GetTestCa();
  ossl::X509Name subject = *BuildName(std::vector<NameAttribute>{{"CN", "x"}});
  ossl::Asn1Integer serial = testing::SerialOf(16);
  CertDescription d = LeafDescription(ca, subject.get(), serial.get());
  d.not_after = d.not_before;
  auto empty = BuildSignedCertificate(d, ca.intermediate_key.get());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message, "empty validity period");
  EXPECT_FALSE(BuildSignedCertificate(LeafDescription(ca, subject.get(), serial.get()), nullptr));
  EXPECT_FALSE(SubjectAltNameExt({}, {}));
  std::vector<std::string> bad_ip{"not-an-ip"};
  EXPECT_FALSE(SubjectAltNameExt({}, bad_ip));
  EXPECT_FALSE(BuildName(std::vector<NameAttribute>{{"C", "FRA", MBSTRING_ASC}}));
}

TEST(CertBuilder, DigestForKey) {
  EXPECT_EQ(DigestForKey(testing::MakeEcKey("P-384").get()), EVP_sha384());
  EXPECT_EQ(DigestForKey(testing::MakeEcKey("P-256").get()), EVP_sha256());
  EXPECT_EQ(DigestForKey(testing::GetTestCa().intermediate_key.get()), EVP_sha256());
}

TEST(CertBuilder, CanonicalSpkiIsTheEncodersOutput) {
  const auto& ca = testing::GetTestCa();
  auto spki_of = [](const EVP_PKEY* key) {
    X509_PUBKEY* raw = nullptr;
    EXPECT_EQ(X509_PUBKEY_set(&raw, const_cast<EVP_PKEY*>(key)), 1);
    return ossl::Owned<X509_PUBKEY, X509_PUBKEY_free>(raw);
  };
  auto rsa = spki_of(ca.intermediate_key.get());
  auto ec = spki_of(ca.ocsp_key.get());
  auto p384 = spki_of(ca.root_key.get());
  EXPECT_TRUE(IsCanonicalSpkiOf(rsa.get(), ca.intermediate_key.get()));
  EXPECT_TRUE(IsCanonicalSpkiOf(ec.get(), ca.ocsp_key.get()));
  EXPECT_TRUE(IsCanonicalSpkiOf(p384.get(), ca.root_key.get()));
  EXPECT_FALSE(IsCanonicalSpkiOf(ec.get(), ca.leaf_key.get()));    // another P-256 key
  EXPECT_FALSE(IsCanonicalSpkiOf(p384.get(), ca.ocsp_key.get()));  // another curve
  EXPECT_FALSE(IsCanonicalSpkiOf(rsa.get(), ca.ocsp_key.get()));   // another type
  EXPECT_FALSE(IsCanonicalSpkiOf(nullptr, ca.ocsp_key.get()));
}

}  // namespace
}  // namespace ca::pki
