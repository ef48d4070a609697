#include "gateway/nonce.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace ca::gateway {
namespace {

// A clock the test moves by hand.
struct FakeClock {
  int64_t now = 1000;
  NonceService::MonotonicClock Fn() {
    return [this] { return now; };
  }
};

TEST(Nonce, SingleUse) {
  FakeClock clock;
  NonceService s(300, RandomBytes(32), clock.Fn());
  std::string n = s.Issue();
  clock.now = 1001;
  EXPECT_EQ(s.Consume(n), NonceCheck::kOk);
  EXPECT_EQ(s.Consume(n), NonceCheck::kReplayed);
}

TEST(Nonce, MacIsTruncatedHmacSha256OfCounterAndTime) {
  const Bytes key(32, 0x5a);
  FakeClock clock;
  NonceService s(300, key, clock.Fn());
  auto raw = *Base64UrlDecode(s.Issue());
  ASSERT_EQ(raw.size(), 32u);
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), raw.data(), 16, mac, &len);
  EXPECT_EQ(Bytes(raw.begin() + 16, raw.end()), Bytes(mac, mac + 16));
}

TEST(Nonce, Expiry) {
  FakeClock clock;
  NonceService s(300, RandomBytes(32), clock.Fn());
  std::string n = s.Issue();
  clock.now = 1301;
  EXPECT_EQ(s.Consume(n), NonceCheck::kExpired);
}

TEST(Nonce, ForgedAndMalformed) {
  FakeClock clock;
  NonceService s(300, RandomBytes(32), clock.Fn());
  std::string n = s.Issue();
  auto raw = *Base64UrlDecode(n);
  raw[3] ^= 1;  // another counter under the same MAC
  EXPECT_EQ(s.Consume(Base64UrlEncode(raw)), NonceCheck::kForged);
  EXPECT_EQ(s.Consume("abc"), NonceCheck::kMalformed);
  EXPECT_EQ(s.Consume(n), NonceCheck::kOk);  // the forgery attempt did not burn it
}

TEST(Nonce, InvalidAfterRestart) {
  std::string n;
  {
    NonceService before(300);
    n = before.Issue();
  }
  NonceService after(300);  // a new random key, as after a process restart
  EXPECT_EQ(after.Consume(n), NonceCheck::kForged);
}

TEST(Nonce, UsedSetIsBoundedByLifetime) {
  FakeClock clock;
  NonceService s(10, RandomBytes(32), clock.Fn());
  for (int i = 0; i < 50; ++i) ASSERT_EQ(s.Consume(s.Issue()), NonceCheck::kOk);
  EXPECT_EQ(s.used_count(), 50u);
  clock.now = 1020;
  ASSERT_EQ(s.Consume(s.Issue()), NonceCheck::kOk);
  EXPECT_EQ(s.used_count(), 1u);
}

// Issue 15: expiry and order come from the monotonic clock only (the service takes no wall time,
// so a wall-clock step forward then back cannot revive a used nonce): a used nonce stays used.
TEST(Nonce, UsedNoncesStayUsedAsTheMonotonicClockAdvances) {
  FakeClock clock;
  NonceService s(300, RandomBytes(32), clock.Fn());
  std::string used = s.Issue();
  ASSERT_EQ(s.Consume(used), NonceCheck::kOk);
  clock.now += 1;
  EXPECT_EQ(s.Consume(s.Issue()), NonceCheck::kOk);
  EXPECT_EQ(s.Consume(used), NonceCheck::kReplayed);
  EXPECT_EQ(s.Consume(s.Issue()), NonceCheck::kOk);  // fresh nonces still work
}

// Even a clock that misbehaves (forward past the lifetime, then back) never lets a pruned nonce
// through: pruned counters stay below a floor.
TEST(Nonce, PrunedNonceStaysRefusedIfTheClockGoesBack) {
  FakeClock clock;
  NonceService s(300, RandomBytes(32), clock.Fn());
  std::string unused = s.Issue();
  std::string used = s.Issue();
  ASSERT_EQ(s.Consume(used), NonceCheck::kOk);
  clock.now = 1000 + 1000;
  ASSERT_EQ(s.Consume(s.Issue()), NonceCheck::kOk);  // prunes `used`
  clock.now = 1001;
  EXPECT_EQ(s.Consume(used), NonceCheck::kExpired);
  EXPECT_EQ(s.Consume(unused), NonceCheck::kExpired);  // older than a pruned one
}

}  // namespace
}  // namespace ca::gateway
