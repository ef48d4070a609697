#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "hsm/p11.h"
#include "hsm/testing/hsm_test_util.h"

namespace ca::hsm {
namespace {

using testing::SoftHsmFixture;

// What the RA does (profiles/policy/mac_key.cpp), with OpenSSL alone: RSA-OAEP (SHA-1) to the
// token key's public half.
Bytes WrapTo(const EVP_PKEY* pub, const Bytes& secret) {
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, const_cast<EVP_PKEY*>(pub), nullptr));
  EXPECT_EQ(EVP_PKEY_encrypt_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()), 1);
  size_t len = 0;
  EXPECT_EQ(EVP_PKEY_encrypt(ctx.get(), nullptr, &len, secret.data(), secret.size()), 1);
  Bytes out(len);
  EXPECT_EQ(EVP_PKEY_encrypt(ctx.get(), out.data(), &len, secret.data(), secret.size()), 1);
  out.resize(len);
  return out;
}

Bytes SoftwareHmac(const Bytes& key, const std::string& data) {
  Bytes out(32);
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const uint8_t*>(data.data()), data.size(), out.data(), &len);
  return out;
}

std::span<const uint8_t> Span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(WrappedMac, HmacUnderAnUnwrappedKeyMatchesSoftwareAndTamperIsRefused) {
  auto fixture = ASSERT_OK(SoftHsmFixture::Create("wrapped-mac"));
  auto token = ASSERT_OK(fixture->OpenToken());
  auto key = ASSERT_OK(token->GenerateKeyPair(KeyType::kRsa3072, "mac-wrap", KeyUsage::kUnwrap));

  // The unwrapping key unwraps only: it neither signs nor leaves the token.
  auto module = ASSERT_OK(p11::Module::Load(fixture->module_path()));
  auto slot = ASSERT_OK(module->FindSlotByTokenLabel(fixture->token_label()));
  auto session = ASSERT_OK(p11::Session::Open(module, slot));
  ASSERT_TRUE(session.Login(CKU_USER, fixture->user_pin()).has_value());
  CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
  auto privs = ASSERT_OK(session.Find(
      {p11::AttrOf(CKA_CLASS, cls), p11::AttrStr(CKA_LABEL, std::string("mac-wrap"))}));
  ASSERT_EQ(privs.size(), 1u);
  EXPECT_TRUE(*session.GetBool(privs[0], CKA_UNWRAP));
  EXPECT_FALSE(*session.GetBool(privs[0], CKA_SIGN));
  EXPECT_FALSE(*session.GetBool(privs[0], CKA_DECRYPT));
  EXPECT_FALSE(*session.GetBool(privs[0], CKA_EXTRACTABLE));
  EXPECT_TRUE(*session.GetBool(privs[0], CKA_SENSITIVE));

  Bytes mac_key(32);
  ASSERT_EQ(RAND_bytes(mac_key.data(), 32), 1);
  Bytes wrapped = WrapTo(key->public_key(), mac_key);
  std::string a = "protected.payload", b = "binding:kid-1";
  auto macs = ASSERT_OK(token->HmacSha256WithWrappedKey("mac-wrap", wrapped, {Span(a), Span(b)}));
  ASSERT_EQ(macs.size(), 2u);
  EXPECT_EQ(macs[0], SoftwareHmac(mac_key, a));
  EXPECT_EQ(macs[1], SoftwareHmac(mac_key, b));

  // No session object is left behind: the MAC key existed only for the call.
  CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
  EXPECT_TRUE(ASSERT_OK(session.Find({p11::AttrOf(CKA_CLASS, secret)})).empty());

  Bytes tampered = wrapped;
  tampered[10] ^= 1;
  auto refused = token->HmacSha256WithWrappedKey("mac-wrap", tampered, {Span(a)});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kCrypto) << refused.error().ToString();

  auto unknown = token->HmacSha256WithWrappedKey("no-such-key", wrapped, {Span(a)});
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);

  // A signing key cannot be used to unwrap.
  ASSERT_OK(token->GenerateKeyPair(KeyType::kRsa3072, "signer"));
  EXPECT_FALSE(token->HmacSha256WithWrappedKey("signer", wrapped, {Span(a)}).has_value());
}

}  // namespace
}  // namespace ca::hsm
