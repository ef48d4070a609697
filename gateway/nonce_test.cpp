#include "gateway/nonce.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace ca::gateway {
namespace {

TEST(Nonce, SingleUse) {
  NonceService s(300);
  std::string n = s.Issue(1000);
  EXPECT_EQ(s.Consume(n, 1001), NonceCheck::kOk);
  EXPECT_EQ(s.Consume(n, 1002), NonceCheck::kReplayed);
}

TEST(Nonce, MacIsTruncatedHmacSha256OfCounterAndTime) {
  const Bytes key(32, 0x5a);
  NonceService s(300, key);
  auto raw = *Base64UrlDecode(s.Issue(1000));
  ASSERT_EQ(raw.size(), 32u);
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), raw.data(), 16, mac, &len);
  EXPECT_EQ(Bytes(raw.begin() + 16, raw.end()), Bytes(mac, mac + 16));
}

TEST(Nonce, Expiry) {
  NonceService s(300);
  std::string n = s.Issue(1000);
  EXPECT_EQ(s.Consume(n, 1301), NonceCheck::kExpired);
}

TEST(Nonce, ForgedAndMalformed) {
  NonceService s(300);
  std::string n = s.Issue(1000);
  auto raw = *Base64UrlDecode(n);
  raw[3] ^= 1;  // another counter under the same MAC
  EXPECT_EQ(s.Consume(Base64UrlEncode(raw), 1001), NonceCheck::kForged);
  EXPECT_EQ(s.Consume("abc", 1001), NonceCheck::kMalformed);
  EXPECT_EQ(s.Consume(n, 1001), NonceCheck::kOk);  // the forgery attempt did not burn it
}

TEST(Nonce, InvalidAfterRestart) {
  std::string n;
  {
    NonceService before(300);
    n = before.Issue(1000);
  }
  NonceService after(300);  // a new random key, as after a process restart
  EXPECT_EQ(after.Consume(n, 1001), NonceCheck::kForged);
}

TEST(Nonce, UsedSetIsBoundedByLifetime) {
  NonceService s(10);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(s.Consume(s.Issue(1000), 1000), NonceCheck::kOk);
  EXPECT_EQ(s.used_count(), 50u);
  ASSERT_EQ(s.Consume(s.Issue(1020), 1020), NonceCheck::kOk);
  EXPECT_EQ(s.used_count(), 1u);
}

}  // namespace
}  // namespace ca::gateway
