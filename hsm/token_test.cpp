#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <filesystem>

#include "hsm/testing/hsm_test_util.h"
#include "hsm/p11.h"

namespace ca::hsm {
namespace {

using testing::SoftHsmFixture;

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = SoftHsmFixture::Create("token-test");
    ASSERT_TRUE(f.has_value()) << f.error().ToString();
    fixture_ = std::move(*f);
    auto t = fixture_->OpenToken();
    ASSERT_TRUE(t.has_value()) << t.error().ToString();
    token_ = *t;
  }
  void TearDown() override {
    token_.reset();
    fixture_.reset();
  }

  // A raw session on the same token (same module instance), logged in as the user.
  p11::Session RawSession() {
    auto module = p11::Module::Load(fixture_->module_path());
    EXPECT_TRUE(module.has_value());
    auto slot = (*module)->FindSlotByTokenLabel(fixture_->token_label());
    EXPECT_TRUE(slot.has_value());
    auto s = p11::Session::Open(*module, *slot);
    EXPECT_TRUE(s.has_value());
    EXPECT_TRUE(s->Login(CKU_USER, fixture_->user_pin()).has_value());
    return std::move(*s);
  }

  CK_OBJECT_HANDLE PrivateHandle(const p11::Session& s, const std::string& label) {
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    auto found = s.Find({p11::AttrOf(CKA_CLASS, cls), p11::AttrStr(CKA_LABEL, label)});
    EXPECT_TRUE(found.has_value());
    EXPECT_EQ(found->size(), 1u);
    return found->empty() ? CK_INVALID_HANDLE : (*found)[0];
  }

  std::unique_ptr<SoftHsmFixture> fixture_;
  std::shared_ptr<Token> token_;
};

TEST(KeyTypeNames, RoundTrip) {
  for (auto t : {KeyType::kRsa3072, KeyType::kRsa4096, KeyType::kEcP256, KeyType::kEcP384}) {
    auto parsed = ParseKeyType(KeyTypeName(t));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, t);
  }
  auto bad = ParseKeyType("rsa2048");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(TokenTest, RsaKeygenAttributesAndSensitiveValues) {
  auto key = ASSERT_OK(token_->GenerateKeyPair(KeyType::kRsa3072, "ca-rsa"));
  EXPECT_EQ(key->type(), KeyType::kRsa3072);
  EXPECT_EQ(EVP_PKEY_get_bits(key->public_key()), 3072);
  p11::Session s = RawSession();
  CK_OBJECT_HANDLE priv = PrivateHandle(s, "ca-rsa");
  EXPECT_TRUE(*s.GetBool(priv, CKA_SENSITIVE));
  EXPECT_FALSE(*s.GetBool(priv, CKA_EXTRACTABLE));
  EXPECT_TRUE(*s.GetBool(priv, CKA_PRIVATE));
  EXPECT_TRUE(*s.GetBool(priv, CKA_TOKEN));
  EXPECT_TRUE(*s.GetBool(priv, CKA_SIGN));
  EXPECT_FALSE(*s.GetBool(priv, CKA_DECRYPT));
  auto d = s.GetBytes(priv, CKA_PRIVATE_EXPONENT);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().message, "C_GetAttributeValue: CKR_ATTRIBUTE_SENSITIVE");
  auto p = s.GetBytes(priv, CKA_PRIME_1);
  ASSERT_FALSE(p.has_value());
  EXPECT_NE(p.error().message.find("CKR_ATTRIBUTE_SENSITIVE"), std::string::npos);

  // CKA_ID is the SHA-1 of the subjectPublicKey, i.e. the SKI OpenSSL computes.
  X509_PUBKEY* xpk = nullptr;
  ASSERT_TRUE(X509_PUBKEY_set(&xpk, const_cast<EVP_PKEY*>(key->public_key())));
  const unsigned char* pk = nullptr;
  int pklen = 0;
  ASSERT_TRUE(X509_PUBKEY_get0_param(nullptr, &pk, &pklen, nullptr, xpk));
  Bytes expected(SHA_DIGEST_LENGTH);
  SHA1(pk, static_cast<size_t>(pklen), expected.data());
  X509_PUBKEY_free(xpk);
  EXPECT_EQ(key->id(), expected);
  EXPECT_EQ(*s.GetBytes(priv, CKA_ID), expected);
}

TEST_F(TokenTest, EcKeygenAttributesAndSensitiveValue) {
  auto key = ASSERT_OK(token_->GenerateKeyPair(KeyType::kEcP256, "ocsp-ec"));
  EXPECT_EQ(key->type(), KeyType::kEcP256);
  char group[32] = {};
  ASSERT_TRUE(
      EVP_PKEY_get_utf8_string_param(key->public_key(), "group", group, sizeof group, nullptr));
  EXPECT_STREQ(group, "prime256v1");
  p11::Session s = RawSession();
  CK_OBJECT_HANDLE priv = PrivateHandle(s, "ocsp-ec");
  EXPECT_TRUE(*s.GetBool(priv, CKA_SENSITIVE));
  EXPECT_FALSE(*s.GetBool(priv, CKA_EXTRACTABLE));
  EXPECT_TRUE(*s.GetBool(priv, CKA_PRIVATE));
  auto v = s.GetBytes(priv, CKA_VALUE);
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().message, "C_GetAttributeValue: CKR_ATTRIBUTE_SENSITIVE");
}

TEST_F(TokenTest, DuplicateLabelRefusedAndNothingAdded) {
  ASSERT_OK(token_->GenerateKeyPair(KeyType::kEcP256, "dup"));
  auto again = token_->GenerateKeyPair(KeyType::kEcP384, "dup");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(again.error().message.find("'dup'"), std::string::npos);
  p11::Session s = RawSession();
  auto all = s.Find({p11::AttrStr(CKA_LABEL, std::string("dup"))});
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->size(), 2u);  // the first pair only
  auto found = ASSERT_OK(token_->FindKey("dup"));
  EXPECT_EQ(found->type(), KeyType::kEcP256);
}

TEST_F(TokenTest, FindKeyReturnsSameKeyAndMissingLabelIsNotFound) {
  auto key = ASSERT_OK(token_->GenerateKeyPair(KeyType::kEcP384, "k384"));
  auto found = ASSERT_OK(token_->FindKey("k384"));
  EXPECT_EQ(found->type(), KeyType::kEcP384);
  EXPECT_EQ(found->id(), key->id());
  EXPECT_EQ(EVP_PKEY_eq(found->public_key(), key->public_key()), 1);
  EXPECT_TRUE(*token_->HasObject("k384"));
  EXPECT_FALSE(*token_->HasObject("nope"));
  auto missing = token_->FindKey("nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "no private key labelled 'nope' on token 'token-test'");
}

TEST_F(TokenTest, SignsEveryRsaSchemeVerifiedBySoftwareKey) {
  auto key = ASSERT_OK(token_->GenerateKeyPair(KeyType::kRsa3072, "rsa"));
  std::string data = "to be signed";
  for (auto scheme :
       {SignScheme::kRsaPkcs1Sha256, SignScheme::kRsaPkcs1Sha384, SignScheme::kRsaPkcs1Sha512,
        SignScheme::kRsaPssSha256, SignScheme::kRsaPssSha384, SignScheme::kRsaPssSha512}) {
    Bytes sig = ASSERT_OK(key->Sign(scheme, Span(data)));
    EXPECT_EQ(sig.size(), 384u);
    EXPECT_TRUE(SoftwareVerify(key->public_key(), scheme, data, sig)) << static_cast<int>(scheme);
    EXPECT_FALSE(SoftwareVerify(key->public_key(), scheme, data + "x", sig));
  }
  // PKCS#1 v1.5 is deterministic: same input, same signature.
  EXPECT_EQ(*key->Sign(SignScheme::kRsaPkcs1Sha256, Span(data)),
            *key->Sign(SignScheme::kRsaPkcs1Sha256, Span(data)));
  auto ecdsa = key->Sign(SignScheme::kEcdsaSha256, Span(data));
  ASSERT_FALSE(ecdsa.has_value());
  EXPECT_EQ(ecdsa.error().code, ErrorCode::kInvalidArgument);
  Bytes short_digest(20, 1);
  auto bad = key->SignDigest(SignScheme::kRsaPkcs1Sha256, short_digest);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("20 bytes"), std::string::npos);
}

TEST_F(TokenTest, SignsEcdsaP256AndP384AsDer) {
  std::string data = "ocsp response";
  auto k256 = ASSERT_OK(token_->GenerateKeyPair(KeyType::kEcP256, "p256"));
  auto k384 = ASSERT_OK(token_->GenerateKeyPair(KeyType::kEcP384, "p384"));
  Bytes s256 = ASSERT_OK(k256->Sign(SignScheme::kEcdsaSha256, Span(data)));
  Bytes s384 = ASSERT_OK(k384->Sign(SignScheme::kEcdsaSha384, Span(data)));
  // DER ECDSA-Sig-Value: SEQUENCE { r, s }.
  for (const Bytes* s : {&s256, &s384}) {
    const unsigned char* p = s->data();
    ECDSA_SIG* parsed = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(s->size()));
    ASSERT_NE(parsed, nullptr);
    EXPECT_EQ(p, s->data() + s->size());
    ECDSA_SIG_free(parsed);
  }
  EXPECT_TRUE(SoftwareVerify(k256->public_key(), SignScheme::kEcdsaSha256, data, s256));
  EXPECT_TRUE(SoftwareVerify(k384->public_key(), SignScheme::kEcdsaSha384, data, s384));
  EXPECT_FALSE(SoftwareVerify(k384->public_key(), SignScheme::kEcdsaSha384, data, s256));
  auto rsa_on_ec = k256->Sign(SignScheme::kRsaPkcs1Sha256, Span(data));
  ASSERT_FALSE(rsa_on_ec.has_value());
  EXPECT_EQ(rsa_on_ec.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(TokenTest, Rsa4096) {
  auto key = ASSERT_OK(token_->GenerateKeyPair(KeyType::kRsa4096, "rsa4096"));
  EXPECT_EQ(EVP_PKEY_get_bits(key->public_key()), 4096);
  std::string data = "x";
  Bytes sig = ASSERT_OK(key->Sign(SignScheme::kRsaPkcs1Sha384, Span(data)));
  EXPECT_EQ(sig.size(), 512u);
  EXPECT_TRUE(SoftwareVerify(key->public_key(), SignScheme::kRsaPkcs1Sha384, data, sig));
  auto found = ASSERT_OK(token_->FindKey("rsa4096"));
  EXPECT_EQ(found->type(), KeyType::kRsa4096);
}

TEST_F(TokenTest, StoreCertificateIsFoundByLabel) {
  auto key = ASSERT_OK(token_->GenerateKeyPair(KeyType::kEcP256, "with-cert"));
  X509* cert = X509_new();
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Stored"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, const_cast<EVP_PKEY*>(key->public_key()));
  auto evp = ASSERT_OK(ToEvpPkey(key));
  ASSERT_GT(X509_sign(cert, evp.get(), EVP_sha256()), 0);
  auto st = token_->StoreCertificate("cert-label", key->id(), cert);
  ASSERT_TRUE(st.has_value()) << st.error().ToString();
  EXPECT_TRUE(*token_->HasObject("cert-label"));
  p11::Session s = RawSession();
  CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
  auto found = ASSERT_OK(
      s.Find({p11::AttrOf(CKA_CLASS, cls), p11::AttrStr(CKA_LABEL, std::string("cert-label"))}));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(*s.GetBytes(found[0], CKA_ID), key->id());
  Bytes value = *s.GetBytes(found[0], CKA_VALUE);
  EXPECT_EQ(value, *ossl::CertToDer(cert));
  auto again = token_->StoreCertificate("cert-label", key->id(), cert);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  X509_free(cert);
}

TEST_F(TokenTest, InitTokenRefusesExistingLabel) {
  auto st =
      InitToken(fixture_->module_path(), "token-test", fixture_->so_pin(), fixture_->user_pin());
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::kAlreadyExists);
  auto bad = InitToken(fixture_->module_path(), std::string(33, 'x'), fixture_->so_pin(),
                       fixture_->user_pin());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(TokenTest, OpenErrors) {
  TokenConfig missing_module = fixture_->config();
  missing_module.module_path = fixture_->dir() + "/no-such-module.so";
  auto m = Token::Open(missing_module, fixture_->user_pin());
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code, ErrorCode::kNotFound);
  EXPECT_NE(m.error().message.find("PKCS#11 module not found"), std::string::npos);

  TokenConfig missing_token = fixture_->config();
  missing_token.token_label = "other-token";
  auto t = Token::Open(missing_token, fixture_->user_pin());
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code, ErrorCode::kNotFound);
  EXPECT_NE(t.error().message.find("no token labelled 'other-token'"), std::string::npos);
}

TEST(SoftHsmFixtureTest, WritesPinFileAndCleansUp) {
  std::string dir;
  {
    auto f = ASSERT_OK(SoftHsmFixture::Create("fixture-token"));
    dir = f->dir();
    struct stat st {};
    ASSERT_EQ(stat(f->user_pin_file().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0400u);
    auto pin = ASSERT_OK(ReadSecretFile(f->user_pin_file()));
    EXPECT_EQ(pin.view(), SoftHsmFixture::kUserPin);
    EXPECT_EQ(std::string(getenv("SOFTHSM2_CONF")), f->conf_path());
    auto token = ASSERT_OK(f->OpenToken());
    EXPECT_EQ(token->config().token_label, "fixture-token");
    // A second token in the same dir; a second fixture is refused while a token is open.
    ASSERT_TRUE(f->InitAnotherToken("second-token").has_value());
    TokenConfig second = f->config();
    second.token_label = "second-token";
    auto token2 = ASSERT_OK(Token::Open(second, f->user_pin()));
    auto key = ASSERT_OK(token2->GenerateKeyPair(KeyType::kEcP256, "k"));
    EXPECT_FALSE(*token->HasObject("k"));
    auto refused = SoftHsmFixture::Create("other");
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
}  // namespace ca::hsm
