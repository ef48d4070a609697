#include "appliance/ceremony/certs.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/encoding.h"
#include "pki/crl_builder.h"
#include "pki/lint.h"
#include "pki/serial.h"

namespace ca::appliance::ceremony {
namespace {

constexpr time_t kDay = 86400;

ossl::Pkey Rsa(unsigned bits) {
  return ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{bits}));
}
ossl::Pkey Ec(const char* curve) {
  return ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

Bytes KeyId(const EVP_PKEY* key) {
  auto fp = ossl::PublicKeyFingerprint(key);
  return Bytes(fp->begin(), fp->begin() + 20);
}

Subject Cn(const std::string& cn) {
  Subject s;
  s.attributes = {{"C", "FR"}, {"O", "Test Org"}, {"CN", cn}};
  s.common_name = cn;
  return s;
}

using pki::CertRole;
using pki::LintCertificate;
using pki::LintCrl;

bool HasProblem(const std::vector<pki::LintFinding>& findings, const std::string& needle) {
  for (const auto& f : findings) {
    if ((f.rule + ": " + f.detail).find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string First(const std::vector<pki::LintFinding>& findings) {
  return findings.empty() ? "" : pki::FormatFindings(findings);
}

class CertsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_key_ = new ossl::Pkey(Ec("P-384"));
    int_key_ = new ossl::Pkey(Rsa(3072));
    ocsp_key_ = new ossl::Pkey(Ec("P-256"));
  }
  static void TearDownTestSuite() {
    delete root_key_;
    delete int_key_;
    delete ocsp_key_;
  }

  ossl::X509Ptr Root(time_t days = 7305) {
    CertSubject s{root_key_->get(), KeyId(root_key_->get()), Cn("Test Root"), now_,
                  now_ + days * kDay};
    auto cert = BuildRootCertificate(s, root_key_->get());
    EXPECT_TRUE(cert) << cert.error().message;
    return std::move(*cert);
  }
  ossl::X509Ptr Intermediate(const X509* root, IntermediateExtras extras = {}) {
    if (extras.crl_url.empty()) {
      extras.crl_url = "http://pki.test/root.crl";
      extras.ca_issuers_url = "http://pki.test/root.cer";
    }
    CertSubject s{int_key_->get(), KeyId(int_key_->get()), Cn("Test ACME CA"), now_,
                  now_ + 1826 * kDay};
    auto cert = BuildIntermediateCertificate(s, extras, {root, root_key_->get()});
    EXPECT_TRUE(cert) << cert.error().message;
    return std::move(*cert);
  }
  ossl::X509Ptr TlsServer(const X509* intermediate, const EVP_PKEY* key,
                          const SubjectAltNames& names) {
    CertSubject s{key,
                  {},
                  Cn(names.dns_names.empty() ? names.ip_addresses[0] : names.dns_names[0]),
                  now_,
                  now_ + 397 * kDay};
    auto cert = BuildTlsServerCertificate(s, names, {intermediate, int_key_->get()});
    EXPECT_TRUE(cert) << cert.error().message;
    return std::move(*cert);
  }
  ossl::X509Ptr Ocsp(const X509* intermediate) {
    CertSubject s{ocsp_key_->get(), KeyId(ocsp_key_->get()), Cn("Test OCSP"), now_,
                  now_ + 365 * kDay};
    auto cert = BuildOcspSignerCertificate(s, {intermediate, int_key_->get()});
    EXPECT_TRUE(cert) << cert.error().message;
    return std::move(*cert);
  }

  time_t now_ = time(nullptr);
  static ossl::Pkey* root_key_;
  static ossl::Pkey* int_key_;
  static ossl::Pkey* ocsp_key_;
};
ossl::Pkey* CertsTest::root_key_ = nullptr;
ossl::Pkey* CertsTest::int_key_ = nullptr;
ossl::Pkey* CertsTest::ocsp_key_ = nullptr;

TEST_F(CertsTest, CertificatesGetDistinctSerialsFromTheOneGenerator) {
  auto a = Root();
  auto b = Root();
  auto sa = pki::Serial::FromCert(a.get());
  auto sb = pki::Serial::FromCert(b.get());
  ASSERT_TRUE(sa && sb);
  EXPECT_TRUE(sa->Validate());
  EXPECT_LE(sa->magnitude.size(), pki::kSerialRandomBytes);
  EXPECT_NE(*sa, *sb);
}

TEST_F(CertsTest, RootHasTheRequiredExtensionsAndPassesLint) {
  auto root = Root();
  EXPECT_TRUE(LintCertificate(root.get(), root.get(), CertRole::kRoot).empty());
  int crit = 0;
  ossl::BasicConstraints bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(root.get(), NID_basic_constraints, &crit, nullptr)));
  ASSERT_TRUE(bc);
  EXPECT_EQ(crit, 1);
  EXPECT_TRUE(bc->ca);
  EXPECT_EQ(ASN1_INTEGER_get(bc->pathlen), 1);
  EXPECT_EQ(X509_get_key_usage(root.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(root.get());
  ASSERT_NE(ski, nullptr);
  Bytes id = KeyId(root_key_->get());
  EXPECT_EQ(Bytes(ASN1_STRING_get0_data(ski), ASN1_STRING_get0_data(ski) + ASN1_STRING_length(ski)),
            id);
  EXPECT_EQ(X509_get_signature_nid(root.get()), NID_ecdsa_with_SHA384);
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(root.get()), X509_get_issuer_name(root.get())), 0);
}

TEST_F(CertsTest, IntermediateAndOcspSignerChainAndPassLint) {
  auto root = Root();
  IntermediateExtras extras{
      "http://pki.test/root.crl", "http://pki.test/root.cer", {"example.com"}, {"bad.example.com"}};
  auto inter = Intermediate(root.get(), extras);
  auto ocsp = Ocsp(inter.get());
  auto problems = LintCertificate(inter.get(), root.get(), CertRole::kIntermediate);
  EXPECT_TRUE(problems.empty()) << First(problems);
  problems = LintCertificate(ocsp.get(), inter.get(), CertRole::kOcspSigner);
  EXPECT_TRUE(problems.empty()) << First(problems);

  EXPECT_EQ(X509_get_extended_key_usage(inter.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(X509_get_extended_key_usage(ocsp.get()), static_cast<uint32_t>(XKU_OCSP_SIGN));
  EXPECT_EQ(X509_get_key_usage(ocsp.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_GE(X509_get_ext_by_NID(ocsp.get(), NID_id_pkix_OCSP_noCheck, -1), 0);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(inter.get()),
                                  X509_get0_subject_key_id(root.get())),
            0);
  int crit = 0;
  auto* nc = static_cast<NAME_CONSTRAINTS*>(
      X509_get_ext_d2i(inter.get(), NID_name_constraints, &crit, nullptr));
  ASSERT_NE(nc, nullptr);
  EXPECT_EQ(crit, 1);
  EXPECT_EQ(sk_GENERAL_SUBTREE_num(nc->permittedSubtrees), 1);
  EXPECT_EQ(sk_GENERAL_SUBTREE_num(nc->excludedSubtrees), 1);
  NAME_CONSTRAINTS_free(nc);

  // OpenSSL's own path validation agrees.
  ossl::X509Store store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), root.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  sk_X509_push(untrusted, inter.get());
  ossl::X509StoreCtx ctx(X509_STORE_CTX_new());
  ASSERT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), ocsp.get(), untrusted), 1);
  EXPECT_EQ(X509_verify_cert(ctx.get()), 1)
      << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  sk_X509_free(untrusted);
}

TEST_F(CertsTest, LintCatchesWrongIssuerAndWrongRole) {
  auto root = Root();
  auto inter = Intermediate(root.get());
  auto ocsp = Ocsp(inter.get());
  // Checked against the wrong issuer: name and signature both fail.
  auto problems = LintCertificate(ocsp.get(), root.get(), CertRole::kOcspSigner);
  EXPECT_TRUE(HasProblem(problems, "signature: does not verify with the issuer's key"));
  EXPECT_TRUE(HasProblem(problems, "issuer name differs"));
  // An OCSP signer certificate is not an intermediate.
  problems = LintCertificate(ocsp.get(), inter.get(), CertRole::kIntermediate);
  EXPECT_TRUE(HasProblem(problems, "basic_constraints: CA:FALSE on a CA"));
  EXPECT_TRUE(HasProblem(problems, "key_usage: must be exactly keyCertSign, cRLSign"));
  EXPECT_TRUE(HasProblem(problems, "extended_key_usage: must be exactly serverAuth"));
  EXPECT_TRUE(HasProblem(problems, "key type not allowed for a intermediate (EC prime256v1)"));
  // An intermediate is not a root.
  problems = LintCertificate(inter.get(), root.get(), CertRole::kRoot);
  EXPECT_TRUE(HasProblem(problems, "pathLenConstraint is 0 (want 1)"));
  EXPECT_TRUE(HasProblem(problems, "unexpected extension 2.5.29.37 on a root certificate"));
  // Staging requires TEST in the CN.
  problems = LintCertificate(root.get(), root.get(), CertRole::kRoot, {.staging = true});
  EXPECT_TRUE(HasProblem(problems, "staging certificate without TEST in its CN"));
  auto status = pki::FindingsStatus(problems, "root.pem");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kInternal);
  EXPECT_EQ(status.error().message,
            "lint: root.pem: subject: staging certificate without TEST in its CN (CA-8)");
}

TEST_F(CertsTest, LintCatchesNonCriticalConstraintsShortSerialAndLongValidity) {
  // Hand-assembled with OpenSSL (not the builders) to produce rule violations.
  ossl::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Bad"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), now_);
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), now_ + 10000 * kDay);
  X509_set_pubkey(cert.get(), root_key_->get());
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  ossl::X509Ext bc(X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "CA:TRUE,pathlen:1"));
  ossl::X509Ext ku(
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_key_usage, "keyCertSign,cRLSign,digitalSignature"));
  X509_add_ext(cert.get(), bc.get(), -1);
  X509_add_ext(cert.get(), ku.get(), -1);
  ASSERT_GT(X509_sign(cert.get(), root_key_->get(), EVP_sha384()), 0);
  auto problems = LintCertificate(cert.get(), cert.get(), CertRole::kRoot);
  EXPECT_TRUE(HasProblem(problems, "serial number shorter than 16 octets (1)"));
  EXPECT_TRUE(HasProblem(problems, "basic_constraints: must be critical"));
  EXPECT_TRUE(HasProblem(problems, "key_usage: must be critical"));
  EXPECT_TRUE(HasProblem(problems, "key_usage: must be exactly keyCertSign, cRLSign"));
  EXPECT_TRUE(HasProblem(problems, "subject_key_identifier: extension missing"));
  EXPECT_TRUE(HasProblem(problems, "validity of 10000 days exceeds 9132 for a root"));
}

TEST_F(CertsTest, ChildMayNotOutliveItsIssuer) {
  auto root = Root(400);
  auto inter = Intermediate(root.get());  // 1826 days under a 400-day root
  auto problems = LintCertificate(inter.get(), root.get(), CertRole::kIntermediate);
  EXPECT_TRUE(HasProblem(problems, "notAfter is later than the issuer's notAfter"));
}

TEST_F(CertsTest, CrlCarriesNumberAkiAndReasons) {
  auto root = Root();
  CrlParams params{
      42, now_, now_ + 365 * kDay, {{"0abc", 1, ""}, {"0123456789abcdef", -1, "20260102030405Z"}}};
  auto der = BuildRootCrl(params, {root.get(), root_key_->get()});
  ASSERT_TRUE(der) << der.error().message;
  auto crl = ossl::CrlFromDer(*der);
  ASSERT_TRUE(crl);
  EXPECT_EQ(X509_CRL_get_signature_nid(crl->get()), NID_ecdsa_with_SHA384);  // P-384 root
  EXPECT_TRUE(LintCrl(crl->get(), root.get()).empty());
  int crit = 0;
  ossl::Asn1Integer number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl->get(), NID_crl_number, &crit, nullptr)));
  ASSERT_TRUE(number);
  EXPECT_EQ(ASN1_INTEGER_get(number.get()), 42);
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl->get());
  ASSERT_EQ(sk_X509_REVOKED_num(revoked), 2);
  bool saw_reason = false;
  for (int i = 0; i < 2; ++i) {
    X509_REVOKED* r = sk_X509_REVOKED_value(revoked, i);
    auto* reason =
        static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, nullptr));
    if (reason != nullptr) {
      EXPECT_EQ(ASN1_ENUMERATED_get(reason), 1);
      EXPECT_EQ(ASN1_INTEGER_get(X509_REVOKED_get0_serialNumber(r)), 0xabc);
      saw_reason = true;
    }
    ASN1_ENUMERATED_free(reason);
  }
  EXPECT_TRUE(saw_reason);
  auto pem = pki::CrlDerToPem(*der);
  ASSERT_TRUE(pem);
  EXPECT_TRUE(pem->starts_with("-----BEGIN X509 CRL-----"));

  // A CRL checked against another issuer fails lint.
  auto other = Intermediate(root.get());
  auto problems = LintCrl(crl->get(), other.get());
  EXPECT_TRUE(HasProblem(problems, "CRL signature does not verify"));
  EXPECT_TRUE(HasProblem(problems, "CRL issuer differs"));
}

// X509_verify_cert with the root trusted and the intermediate untrusted, as a TLS client checks a
// server: purpose sslserver, and optionally a host name or IP address to match.
int VerifyServer(const X509* root, const X509* inter, const X509* leaf, const char* host = nullptr,
                 const char* ip = nullptr) {
  ossl::X509Store store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), const_cast<X509*>(root));
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  sk_X509_push(untrusted, const_cast<X509*>(inter));
  ossl::X509StoreCtx ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), const_cast<X509*>(leaf), untrusted);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  if (host != nullptr) X509_VERIFY_PARAM_set1_host(param, host, 0);
  if (ip != nullptr) X509_VERIFY_PARAM_set1_ip_asc(param, ip);
  int rc = X509_verify_cert(ctx.get()) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx.get());
  sk_X509_free(untrusted);
  return rc;
}

std::vector<std::string> SanEntries(const X509* cert, int* critical) {
  std::vector<std::string> out;
  ossl::GeneralNames san(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, critical, nullptr)));
  for (int i = 0; san && i < sk_GENERAL_NAME_num(san.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(san.get(), i);
    if (gn->type == GEN_DNS) {
      out.push_back("DNS:" +
                    std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                                static_cast<size_t>(ASN1_STRING_length(gn->d.dNSName))));
    } else if (gn->type == GEN_IPADD) {
      out.push_back("IP:" + HexEncode({ASN1_STRING_get0_data(gn->d.iPAddress),
                                       static_cast<size_t>(ASN1_STRING_length(gn->d.iPAddress))}));
    } else {
      out.push_back("other");
    }
  }
  return out;
}

TEST_F(CertsTest, TlsServerCertificateHasServerFieldsAndVerifies) {
  auto root = Root();
  auto inter = Intermediate(root.get());
  ossl::Pkey key = *GenerateSoftwareKey(hsm::KeyType::kEcP256);
  SubjectAltNames names{{"localhost", "acme.example"}, {"127.0.0.1", "::1"}};
  auto tls = TlsServer(inter.get(), key.get(), names);

  auto problems = LintCertificate(tls.get(), inter.get(), CertRole::kLeaf);
  EXPECT_TRUE(problems.empty()) << First(problems);
  EXPECT_EQ(X509_get_version(tls.get()), X509_VERSION_3);
  auto serial = pki::Serial::FromCert(tls.get());  // from the one generator: positive, <= 18 octets
  ASSERT_TRUE(serial);
  EXPECT_TRUE(serial->Validate());
  EXPECT_LE(serial->magnitude.size(), pki::kSerialRandomBytes);
  EXPECT_GE(serial->magnitude.size(), 8u);
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(tls.get()), X509_get_subject_name(inter.get())), 0);
  int crit = 0;
  ossl::BasicConstraints bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(tls.get(), NID_basic_constraints, &crit, nullptr)));
  ASSERT_TRUE(bc);
  EXPECT_EQ(crit, 1);
  EXPECT_FALSE(bc->ca);
  EXPECT_EQ(bc->pathlen, nullptr);
  int ku_at = X509_get_ext_by_NID(tls.get(), NID_key_usage, -1);
  ASSERT_GE(ku_at, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(tls.get(), ku_at)), 1);
  EXPECT_EQ(X509_get_key_usage(tls.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(tls.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(SanEntries(tls.get(), &crit),
            (std::vector<std::string>{"DNS:localhost", "DNS:acme.example", "IP:7f000001",
                                      "IP:00000000000000000000000000000001"}));
  EXPECT_EQ(crit, 0);
  // SKI: RFC 5280 method 1 (SHA-1 of the subjectPublicKey), as the token's CKA_ID; AKI: the
  // issuer's SKI.
  unsigned char sha1[20];
  unsigned int len = 0;
  ASSERT_EQ(X509_pubkey_digest(tls.get(), EVP_sha1(), sha1, &len), 1);
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(tls.get());
  ASSERT_NE(ski, nullptr);
  EXPECT_EQ(Bytes(ASN1_STRING_get0_data(ski), ASN1_STRING_get0_data(ski) + ASN1_STRING_length(ski)),
            Bytes(sha1, sha1 + len));
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(tls.get()),
                                  X509_get0_subject_key_id(inter.get())),
            0);
  EXPECT_EQ(X509_get_signature_nid(tls.get()),
            NID_sha256WithRSAEncryption);  // signed by the RSA intermediate
  EXPECT_EQ(X509_check_private_key(tls.get(), key.get()), 1);

  // A TLS client accepts it for each of its names, and for no other.
  EXPECT_EQ(VerifyServer(root.get(), inter.get(), tls.get()), X509_V_OK);
  EXPECT_EQ(VerifyServer(root.get(), inter.get(), tls.get(), "acme.example"), X509_V_OK);
  EXPECT_EQ(VerifyServer(root.get(), inter.get(), tls.get(), nullptr, "::1"), X509_V_OK);
  EXPECT_EQ(VerifyServer(root.get(), inter.get(), tls.get(), "other.example"),
            X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(VerifyServer(root.get(), inter.get(), tls.get(), nullptr, "127.0.0.2"),
            X509_V_ERR_IP_ADDRESS_MISMATCH);
  // Not a CA: it cannot issue.
  EXPECT_EQ(X509_check_ca(tls.get()), 0);
}

TEST_F(CertsTest, TlsServerRsaKeyAddsKeyEnciphermentAndKeyIsPkcs8) {
  auto root = Root();
  auto inter = Intermediate(root.get());
  ossl::Pkey key = *GenerateSoftwareKey(hsm::KeyType::kRsa3072);
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 3072);
  auto tls = TlsServer(inter.get(), key.get(), {{}, {"10.1.2.3"}});
  auto problems = LintCertificate(tls.get(), inter.get(), CertRole::kLeaf);
  EXPECT_TRUE(problems.empty()) << First(problems);
  EXPECT_EQ(X509_get_key_usage(tls.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(VerifyServer(root.get(), inter.get(), tls.get(), nullptr, "10.1.2.3"), X509_V_OK);

  auto pem = PrivateKeyToPkcs8Pem(key.get());
  ASSERT_TRUE(pem) << pem.error().message;
  EXPECT_TRUE(pem->view().starts_with("-----BEGIN PRIVATE KEY-----\n"));
  ossl::Bio bio(BIO_new_mem_buf(pem->view().data(), static_cast<int>(pem->size())));
  ossl::Pkey parsed(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(EVP_PKEY_eq(parsed.get(), key.get()), 1);
  EXPECT_EQ(X509_check_private_key(tls.get(), parsed.get()), 1);
}

TEST_F(CertsTest, TlsServerNamesMustFitTheIssuersNameConstraints) {
  auto root = Root();
  auto inter = Intermediate(
      root.get(), {"http://pki.test/root.crl", "http://pki.test/root.cer", {"example.com"}, {}});
  SubjectAltNames inside{{"acme.example.com", "example.com"}, {"127.0.0.1"}};  // IPs: no IP subtree
  EXPECT_TRUE(CheckNamesAllowedByIssuer(inside, inter.get()));
  SubjectAltNames outside{{"acme.example.com", "localhost"}, {}};
  auto refused = CheckNamesAllowedByIssuer(outside, inter.get());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.error().message,
            "dns_names[1]: 'localhost' is not allowed by the issuer's name constraints (permitted "
            "subtree "
            "violation)");

  ossl::Pkey key = *GenerateSoftwareKey(hsm::KeyType::kEcP256);
  auto ok = TlsServer(inter.get(), key.get(), inside);
  EXPECT_TRUE(LintCertificate(ok.get(), inter.get(), CertRole::kLeaf).empty());
  EXPECT_EQ(VerifyServer(root.get(), inter.get(), ok.get()), X509_V_OK);
  // Built anyway (the builder does not judge names), lint and path validation both refuse it.
  auto bad = TlsServer(inter.get(), key.get(), outside);
  EXPECT_TRUE(HasProblem(
      LintCertificate(bad.get(), inter.get(), CertRole::kLeaf),
      "names not allowed by the issuer's name constraints (permitted subtree violation)"));
  EXPECT_EQ(VerifyServer(root.get(), inter.get(), bad.get()), X509_V_ERR_PERMITTED_VIOLATION);
}

TEST_F(CertsTest, LintTellsATlsServerCertificateFromOtherRoles) {
  auto root = Root();
  auto inter = Intermediate(root.get());
  auto ocsp = Ocsp(inter.get());
  // An OCSP signer certificate is not a TLS server certificate.
  auto problems = LintCertificate(ocsp.get(), inter.get(), CertRole::kLeaf);
  EXPECT_TRUE(HasProblem(problems, "extended_key_usage: must be exactly serverAuth"));
  EXPECT_TRUE(HasProblem(problems, "unexpected extension 1.3.6.1.5.5.7.48.1.5 on a leaf"));
  EXPECT_TRUE(HasProblem(problems, "subject_alt_name: extension missing"));
  // Nor is the intermediate, nor an RSA-4096 key (leaves: RSA 3072, or P-256/P-384 for an
  // operator's ECDSA profile).
  problems = LintCertificate(inter.get(), root.get(), CertRole::kLeaf);
  EXPECT_TRUE(HasProblem(problems, "basic_constraints: CA:TRUE on a leaf certificate"));
  EXPECT_TRUE(HasProblem(problems, "key_usage: must be exactly digitalSignature, keyEncipherment"));
  ossl::Pkey rsa4096 = *GenerateSoftwareKey(hsm::KeyType::kRsa4096);
  auto tls = TlsServer(inter.get(), rsa4096.get(), {{"localhost"}, {}});
  EXPECT_TRUE(HasProblem(LintCertificate(tls.get(), inter.get(), CertRole::kLeaf),
                         "key type not allowed for a leaf (RSA 4096)"));
  // A TLS server certificate is not an intermediate, and one longer than 397 days fails lint.
  problems = LintCertificate(tls.get(), inter.get(), CertRole::kIntermediate);
  EXPECT_TRUE(HasProblem(problems, "basic_constraints: CA:FALSE on a CA"));
  ossl::Pkey key = *GenerateSoftwareKey(hsm::KeyType::kEcP256);
  CertSubject s{key.get(), {}, Cn("localhost"), now_, now_ + 398 * kDay};
  auto long_lived =
      BuildTlsServerCertificate(s, {{"localhost"}, {}}, {inter.get(), int_key_->get()});
  ASSERT_TRUE(long_lived);
  EXPECT_TRUE(HasProblem(LintCertificate(long_lived->get(), inter.get(), CertRole::kLeaf),
                         "validity of 398 days exceeds 397 for a leaf"));
  // No names: refused by the builder.
  auto nameless = BuildTlsServerCertificate(s, {}, {inter.get(), int_key_->get()});
  ASSERT_FALSE(nameless);
  EXPECT_EQ(nameless.error().message, "no subjectAltName");
}

TEST_F(CertsTest, BuildersRefuseEmptyInputs) {
  CertSubject s{root_key_->get(), KeyId(root_key_->get()), Cn("R"), now_, now_};
  auto cert = BuildRootCertificate(s, root_key_->get());
  ASSERT_FALSE(cert);
  EXPECT_EQ(cert.error().message, "empty validity period");
  auto inter = BuildIntermediateCertificate(s, {}, {nullptr, nullptr});
  ASSERT_FALSE(inter);
  EXPECT_EQ(inter.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ca::appliance::ceremony
