#include "profiles/policy/mac_key.h"

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
