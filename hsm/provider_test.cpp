// The seam: HSM keys as EVP_PKEYs with unchanged OpenSSL signing APIs.
#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/ocsp.h>
#include <openssl/provider.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hsm/testing/hsm_test_util.h"

namespace ca::hsm {
namespace {

using testing::SoftHsmFixture;

class SeamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto f = SoftHsmFixture::Create("seam-test");
    ASSERT_TRUE(f.has_value()) << f.error().ToString();
    fixture_ = f->release();
    auto t = fixture_->OpenToken();
    ASSERT_TRUE(t.has_value()) << t.error().ToString();
    token_ = new std::shared_ptr<Token>(*t);
    rsa_ = new std::shared_ptr<HsmKey>(*(*token_)->GenerateKeyPair(KeyType::kRsa3072, "seam-rsa"));
    ec_ = new std::shared_ptr<HsmKey>(*(*token_)->GenerateKeyPair(KeyType::kEcP384, "seam-ec"));
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete ec_;
    delete token_;
    delete fixture_;
  }

  static X509* NewCert(const char* cn, EVP_PKEY* pubkey, X509* issuer) {
    X509* cert = X509_new();
    X509_set_version(cert, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 4242);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
    X509_set_issuer_name(cert,
                         issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(cert));
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, pubkey);
    return cert;
  }

  // Re-parses DER so that verification only sees bytes and software keys.
  static ossl::X509Ptr Reparse(X509* cert) { return *ossl::CertFromDer(*ossl::CertToDer(cert)); }

  static SoftHsmFixture* fixture_;
  static std::shared_ptr<Token>* token_;
  static std::shared_ptr<HsmKey>* rsa_;
  static std::shared_ptr<HsmKey>* ec_;
};
SoftHsmFixture* SeamTest::fixture_ = nullptr;
std::shared_ptr<Token>* SeamTest::token_ = nullptr;
std::shared_ptr<HsmKey>* SeamTest::rsa_ = nullptr;
std::shared_ptr<HsmKey>* SeamTest::ec_ = nullptr;

TEST_F(SeamTest, EvpPkeyLooksLikeTheKey) {
  auto pkey = ASSERT_OK(ToEvpPkey(*rsa_));
  EXPECT_TRUE(EVP_PKEY_is_a(pkey.get(), "RSA"));
  EXPECT_EQ(EVP_PKEY_get_bits(pkey.get()), 3072);
  EXPECT_EQ(EVP_PKEY_get_size(pkey.get()), 384);
  EXPECT_EQ(EVP_PKEY_get_security_bits(pkey.get()), 128);
  EXPECT_EQ(EVP_PKEY_eq(pkey.get(), (*rsa_)->public_key()), 1);
  EXPECT_EQ(EVP_PKEY_eq((*rsa_)->public_key(), pkey.get()), 1);
  EXPECT_NE(EVP_PKEY_eq(pkey.get(), (*ec_)->public_key()), 1);
  // The public key encodes exactly like the software one.
  EXPECT_EQ(*ossl::PublicKeyToDer(pkey.get()), *ossl::PublicKeyToDer((*rsa_)->public_key()));
  auto ec = ASSERT_OK(ToEvpPkey(*ec_));
  EXPECT_TRUE(EVP_PKEY_is_a(ec.get(), "EC"));
  EXPECT_EQ(EVP_PKEY_get_bits(ec.get()), 384);
  char digest[32] = {};
  ASSERT_EQ(EVP_PKEY_get_default_digest_name(ec.get(), digest, sizeof digest), 1);
  EXPECT_STREQ(digest, "SHA384");
  EXPECT_EQ(*ossl::PublicKeyToDer(ec.get()), *ossl::PublicKeyToDer((*ec_)->public_key()));
}

TEST_F(SeamTest, SelfSignedCertificateRsaAndEc) {
  struct Case {
    std::shared_ptr<HsmKey> key;
    const EVP_MD* md;
    int expected_nid;
  };
  for (const Case& c : {Case{*rsa_, EVP_sha256(), NID_sha256WithRSAEncryption},
                        Case{*rsa_, EVP_sha512(), NID_sha512WithRSAEncryption},
                        Case{*ec_, EVP_sha384(), NID_ecdsa_with_SHA384}}) {
    auto pkey = ASSERT_OK(ToEvpPkey(c.key));
    X509* cert = NewCert("HSM Root", pkey.get(), nullptr);
    ASSERT_GT(X509_sign(cert, pkey.get(), c.md), 0) << ossl::DrainErrors();
    ossl::X509Ptr parsed = Reparse(cert);
    EXPECT_EQ(X509_get_signature_nid(parsed.get()), c.expected_nid);
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(parsed.get()), c.key->public_key()), 1);
    EXPECT_EQ(X509_verify(parsed.get(), X509_get0_pubkey(parsed.get())), 1);
    // The in-memory certificate verifies too (its public key is the seam key).
    EXPECT_EQ(X509_verify(cert, pkey.get()), 1);
    EXPECT_EQ(X509_check_private_key(parsed.get(), pkey.get()), 1);
    X509_free(cert);
  }
}

TEST_F(SeamTest, RsaPssCertificateThroughDigestSignCtx) {
  auto pkey = ASSERT_OK(ToEvpPkey(*rsa_));
  X509* cert = NewCert("PSS", pkey.get(), nullptr);
  EVP_MD_CTX* mctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  ASSERT_EQ(EVP_DigestSignInit(mctx, &pctx, EVP_sha384(), nullptr, pkey.get()), 1)
      << ossl::DrainErrors();
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1) << ossl::DrainErrors();
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
  ASSERT_GT(X509_sign_ctx(cert, mctx), 0) << ossl::DrainErrors();
  EVP_MD_CTX_free(mctx);
  ossl::X509Ptr parsed = Reparse(cert);
  EXPECT_EQ(X509_get_signature_nid(parsed.get()), NID_rsassaPss);
  EXPECT_EQ(X509_verify(parsed.get(), const_cast<EVP_PKEY*>((*rsa_)->public_key())), 1)
      << ossl::DrainErrors();
  X509_free(cert);
}

TEST_F(SeamTest, CsrCrlAndOcspSignedAndVerified) {
  auto ca_key = ASSERT_OK(ToEvpPkey(*rsa_));
  X509* ca = NewCert("HSM CA", ca_key.get(), nullptr);
  ASSERT_GT(X509_sign(ca, ca_key.get(), EVP_sha256()), 0);
  ossl::X509Ptr ca_parsed = Reparse(ca);

  // CSR
  X509_REQ* req = X509_REQ_new();
  X509_REQ_set_version(req, 0);
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("csr.example"), -1, -1, 0);
  ASSERT_EQ(X509_REQ_set_pubkey(req, ca_key.get()), 1);
  ASSERT_GT(X509_REQ_sign(req, ca_key.get(), EVP_sha256()), 0) << ossl::DrainErrors();
  auto req_der = ASSERT_OK(ossl::CsrToDer(req));
  auto req_parsed = ASSERT_OK(ossl::CsrFromDer(req_der));
  EXPECT_EQ(X509_REQ_verify(req_parsed.get(), const_cast<EVP_PKEY*>((*rsa_)->public_key())), 1);
  X509_REQ_free(req);

  // CRL with one revoked entry, signed by the HSM CA key.
  X509_CRL* crl = X509_CRL_new();
  X509_CRL_set_version(crl, X509_CRL_VERSION_2);
  X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
  ossl::Asn1Time now(ASN1_TIME_set(nullptr, time(nullptr)));
  X509_CRL_set1_lastUpdate(crl, now.get());
  X509_REVOKED* rev = X509_REVOKED_new();
  ossl::Asn1Integer serial(ASN1_INTEGER_new());
  ASN1_INTEGER_set(serial.get(), 99);
  X509_REVOKED_set_serialNumber(rev, serial.get());
  X509_REVOKED_set_revocationDate(rev, now.get());
  X509_CRL_add0_revoked(crl, rev);
  ASSERT_GT(X509_CRL_sign(crl, ca_key.get(), EVP_sha256()), 0) << ossl::DrainErrors();
  auto crl_der = ASSERT_OK(ossl::CrlToDer(crl));
  auto crl_parsed = ASSERT_OK(ossl::CrlFromDer(crl_der));
  EXPECT_EQ(X509_CRL_verify(crl_parsed.get(), X509_get0_pubkey(ca_parsed.get())), 1);
  EXPECT_EQ(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl_parsed.get())), 1);
  X509_CRL_free(crl);

  // OCSP response signed by a delegated EC signer whose key is in the HSM.
  auto ocsp_key = ASSERT_OK(ToEvpPkey(*ec_));
  X509* signer = NewCert("OCSP signer", ocsp_key.get(), ca);
  X509_sign(signer, ca_key.get(), EVP_sha256());
  OCSP_BASICRESP* bs = OCSP_BASICRESP_new();
  OCSP_CERTID* id = OCSP_cert_to_id(EVP_sha1(), ca_parsed.get(), ca_parsed.get());
  ossl::Asn1Time this_update(ASN1_TIME_set(nullptr, time(nullptr)));
  ASSERT_NE(OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD, 0, nullptr, this_update.get(),
                                   nullptr),
            nullptr);
  ASSERT_EQ(OCSP_basic_sign(bs, signer, ocsp_key.get(), EVP_sha384(), nullptr, 0), 1)
      << ossl::DrainErrors();
  unsigned char* der = nullptr;
  int len = i2d_OCSP_BASICRESP(bs, &der);
  ASSERT_GT(len, 0);
  const unsigned char* p = der;
  OCSP_BASICRESP* parsed = d2i_OCSP_BASICRESP(nullptr, &p, len);
  OPENSSL_free(der);
  ASSERT_NE(parsed, nullptr);
  ossl::X509Ptr signer_parsed = Reparse(signer);
  STACK_OF(X509)* certs = sk_X509_new_null();
  sk_X509_push(certs, signer_parsed.get());
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca_parsed.get());
  EXPECT_EQ(OCSP_basic_verify(parsed, certs, store, OCSP_TRUSTOTHER | OCSP_NOCHECKS), 1)
      << ossl::DrainErrors();
  X509_STORE_free(store);
  sk_X509_free(certs);
  OCSP_BASICRESP_free(parsed);
  OCSP_BASICRESP_free(bs);
  OCSP_CERTID_free(id);
  X509_free(signer);
  X509_free(ca);
}

TEST_F(SeamTest, DigestSignVerifyAndPrehashedSign) {
  auto pkey = ASSERT_OK(ToEvpPkey(*ec_));
  std::string data = "payload";
  EVP_MD_CTX* mctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestSignInit(mctx, nullptr, EVP_sha256(), nullptr, pkey.get()), 1);
  size_t len = 0;
  ASSERT_EQ(EVP_DigestSign(mctx, nullptr, &len, Span(data).data(), data.size()), 1);
  Bytes sig(len);
  ASSERT_EQ(EVP_DigestSign(mctx, sig.data(), &len, Span(data).data(), data.size()), 1)
      << ossl::DrainErrors();
  sig.resize(len);
  EVP_MD_CTX_free(mctx);
  EXPECT_TRUE(SoftwareVerify((*ec_)->public_key(), SignScheme::kEcdsaSha256, data, sig));
  // Verification through the seam key works too, and rejects a changed message.
  mctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(mctx, nullptr, EVP_sha256(), nullptr, pkey.get()), 1);
  EXPECT_EQ(EVP_DigestVerify(mctx, sig.data(), sig.size(), Span(data).data(), data.size()), 1);
  EVP_MD_CTX_free(mctx);
  mctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(mctx, nullptr, EVP_sha256(), nullptr, pkey.get()), 1);
  EXPECT_NE(EVP_DigestVerify(mctx, sig.data(), sig.size(), Span(data).data(), data.size() - 1), 1);
  EVP_MD_CTX_free(mctx);

  // Pre-hashed: EVP_PKEY_sign with the digest set.
  auto rsa = ASSERT_OK(ToEvpPkey(*rsa_));
  unsigned char digest[32];
  SHA256(Span(data).data(), data.size(), digest);
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_pkey(nullptr, rsa.get(), nullptr);
  ASSERT_EQ(EVP_PKEY_sign_init(pctx), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()), 1);
  size_t siglen = 0;
  ASSERT_EQ(EVP_PKEY_sign(pctx, nullptr, &siglen, digest, sizeof digest), 1);
  Bytes rsa_sig(siglen);
  ASSERT_EQ(EVP_PKEY_sign(pctx, rsa_sig.data(), &siglen, digest, sizeof digest), 1)
      << ossl::DrainErrors();
  rsa_sig.resize(siglen);
  EVP_PKEY_CTX_free(pctx);
  EXPECT_TRUE(SoftwareVerify((*rsa_)->public_key(), SignScheme::kRsaPkcs1Sha256, data, rsa_sig));
}

TEST_F(SeamTest, UnsupportedDigestIsRefused) {
  auto pkey = ASSERT_OK(ToEvpPkey(*rsa_));
  X509* cert = NewCert("SHA1", pkey.get(), nullptr);
  EXPECT_EQ(X509_sign(cert, pkey.get(), EVP_sha1()), 0);
  std::string errors = ossl::DrainErrors();
  EXPECT_NE(errors.find("digest not allowed"), std::string::npos) << errors;
  X509_free(cert);
}

TEST_F(SeamTest, SoftwareKeysStillUseTheDefaultProvider) {
  auto hsm = ASSERT_OK(ToEvpPkey(*rsa_));  // the provider is loaded
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  ASSERT_NE(rsa, nullptr) << ossl::DrainErrors();
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  ASSERT_NE(ec, nullptr) << ossl::DrainErrors();
  for (EVP_PKEY* key : {rsa, ec}) {
    X509* cert = NewCert("software", key, nullptr);
    ASSERT_GT(X509_sign(cert, key, EVP_sha256()), 0) << ossl::DrainErrors();
    EXPECT_EQ(X509_verify(cert, key), 1);
    EXPECT_STREQ(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(key)), "default");
    X509_free(cert);
  }
  EXPECT_NE(EVP_PKEY_eq(rsa, hsm.get()), 1);
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(ec);
}

TEST_F(SeamTest, EvpPkeyKeepsTheKeyAlive) {
  ossl::Pkey pkey;
  {
    auto key = ASSERT_OK((*token_)->FindKey("seam-ec"));
    pkey = ASSERT_OK(ToEvpPkey(key));
  }
  X509* cert = NewCert("alive", pkey.get(), nullptr);
  ASSERT_GT(X509_sign(cert, pkey.get(), EVP_sha384()), 0);
  EXPECT_EQ(X509_verify(Reparse(cert).get(), const_cast<EVP_PKEY*>((*ec_)->public_key())), 1);
  X509_free(cert);
}

}  // namespace
}  // namespace ca::hsm
