#include "profiles/policy/mac_key.h"

#include <openssl/hmac.h>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/encoding.h"
#include "profiles/policy/testing_util.h"

namespace ca::profiles::policy {
namespace {

using testing::TempDir;

TEST(MacKey, WrapKeyFileCreatedOnce0440) {
  TempDir dir;
  std::string path = dir.Sub("wrap.key");
  ASSERT_TRUE(CreateWrapKeyFile(path, ""));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0440u);
  auto again = CreateWrapKeyFile(path, "");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  auto key = LoadWrapKey(path);
  ASSERT_TRUE(key) << key.error().ToString();
  EXPECT_EQ(key->size(), kWrapKeyBytes);
}

TEST(MacKey, WrapKeyRefusedWhenOthersCanRead) {
  TempDir dir;
  std::string path = dir.Sub("wrap.key");
  ASSERT_TRUE(CreateWrapKeyFile(path, ""));
  ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
  auto key = LoadWrapKey(path);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, ErrorCode::kPermissionDenied);
  EXPECT_FALSE(LoadWrapKey(dir.Sub("missing")));
}

TEST(MacKey, WrapUnwrapRoundTripAndTamper) {
  Secret wrap(std::string(32, 'k'));
  Secret mac = GenerateMacKey();
  ASSERT_EQ(mac.size(), 32u);
  EXPECT_EQ(MacKeyToText(mac).size(), 43u);  // base64url, no padding
  EXPECT_EQ(MacKeyToText(mac).find('='), std::string::npos);
  ExternalAccount a;
  a.kid = "0b7a3f0e-1111-4222-8333-444455556666";
  a.mac_wrapped = *WrapMacKey(a.kid, mac, wrap);
  auto back = UnwrapMacKey(a, wrap);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->view(), mac.view());

  // Another KeyID (AAD) does not authenticate.
  ExternalAccount other = a;
  other.kid = "0b7a3f0e-1111-4222-8333-444455556667";
  auto wrong_kid = UnwrapMacKey(other, wrap);
  ASSERT_FALSE(wrong_kid);
  EXPECT_EQ(wrong_kid.error().code, ErrorCode::kCrypto);

  // A flipped ciphertext bit is refused.
  Bytes blob = *Base64UrlDecode(a.mac_wrapped);
  blob[15] ^= 0x01;
  ExternalAccount tampered = a;
  tampered.mac_wrapped = Base64UrlEncode(blob);
  auto t = UnwrapMacKey(tampered, wrap);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, ErrorCode::kCrypto);
  EXPECT_EQ(t.error().message.find(MacKeyToText(mac)), std::string::npos);

  // Wrong wrapping key.
  Secret wrong(std::string(32, 'x'));
  EXPECT_FALSE(UnwrapMacKey(a, wrong));
  // Truncated record.
  ExternalAccount cut = a;
  cut.mac_wrapped = a.mac_wrapped.substr(0, 20);
  auto c = UnwrapMacKey(cut, wrap);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace ca::profiles::policy

namespace ca::profiles::policy {
namespace {

TEST(MacKey, WrappedForHsmUnwrapsWithTheKeyAndCarriesTheKidBinding) {
  Secret mac = GenerateMacKey();
  auto blob = WrapMacKeyForHsm("kid-1", mac, testing::SoftwareMacWrapKey());
  ASSERT_TRUE(blob) << blob.error().ToString();
  EXPECT_TRUE(blob->starts_with(kHsmWrappedPrefix));
  EXPECT_EQ(blob->find(MacKeyToText(mac)), std::string::npos);
  auto parsed = ParseHsmWrappedMac(*blob);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(testing::SoftwareUnwrap(parsed->wrapped).view(), mac.view());
  // The binding is HMAC-SHA256(MAC key, binding input of this kid) and no other.
  uint8_t expected[32];
  unsigned len = 0;
  std::string in = MacBindingInput("kid-1");
  HMAC(EVP_sha256(), mac.data(), 32, reinterpret_cast<const uint8_t*>(in.data()), in.size(),
       expected, &len);
  EXPECT_EQ(parsed->kid_binding, std::vector<uint8_t>(expected, expected + 32));
  EXPECT_NE(MacBindingInput("kid-1"), MacBindingInput("kid-2"));

  ExternalAccount legacy;
  legacy.mac_wrapped = "AAAA";
  EXPECT_TRUE(IsLegacyWrappedMac(legacy));
  EXPECT_EQ(ParseHsmWrappedMac("AAAA").error().code, ErrorCode::kCorrupt);
  EXPECT_EQ(ParseHsmWrappedMac("hsm1.AAAA").error().code, ErrorCode::kCorrupt);
}

TEST(MacKey, RecipientKeysAreCheckedAndTheHandOverDecryptsToTheText) {
  testing::TempDir dir;
  ossl::Pkey small(EVP_RSA_gen(1024));
  ASSERT_TRUE(ossl::WriteFileAtomic(dir.Sub("small.pem"), *ossl::PublicKeyToPem(small.get()), 0644, true));
  EXPECT_EQ(LoadRecipientPublicKey(dir.Sub("small.pem")).error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(ossl::WriteFileAtomic(dir.Sub("junk.pem"), "not a key", 0644, true));
  EXPECT_EQ(LoadRecipientPublicKey(dir.Sub("junk.pem")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(LoadMacWrapPublicKey(dir.Sub("missing.pem")));

  ossl::Pkey requester(EVP_RSA_gen(2048));
  ASSERT_TRUE(ossl::WriteFileAtomic(dir.Sub("r.pem"), *ossl::PublicKeyToPem(requester.get()), 0644, true));
  auto pub = LoadRecipientPublicKey(dir.Sub("r.pem"));
  ASSERT_TRUE(pub) << pub.error().ToString();
  Secret mac = GenerateMacKey();
  auto sealed = EncryptMacKeyForRecipient(mac, pub->get());
  ASSERT_TRUE(sealed) << sealed.error().ToString();
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, requester.get(), nullptr));
  ASSERT_EQ(EVP_PKEY_decrypt_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()), 1);
  std::string out(256, '\0');
  size_t len = out.size();
  ASSERT_EQ(EVP_PKEY_decrypt(ctx.get(), reinterpret_cast<uint8_t*>(out.data()), &len,
                             sealed->data(), sealed->size()),
            1);
  out.resize(len);
  EXPECT_EQ(out, MacKeyToText(mac));
}

}  // namespace
}  // namespace ca::profiles::policy
