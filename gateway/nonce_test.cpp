#include "gateway/nonce.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "gateway/retention.h"
#include "gateway/store.h"

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

// Issue 20: two gateways of a pair share the key file and the ACME store. The redemption table is
// the real store (LMDB here; PostgreSQL in a pair: the same StoreTxn code).
class SharedNonceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("gw-nonce-" + RandomUuidV4());
    auto s = AcmeStore::Open(dir_.string());
    ASSERT_TRUE(s) << s.error().ToString();
    store_.emplace(std::move(*s));
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  SharedNonceOptions Options(const std::string& gateway_id, Bytes key = Bytes(32, 0x42)) {
    SharedNonceOptions o;
    o.key = std::move(key);
    o.gateway_id = gateway_id;
    o.wall_clock = [this] { return now_; };
    o.redeem = [this](std::string_view id, int64_t expires_at) {
      return store_->Write([&](StoreTxn& txn) { return txn.RedeemNonce(id, expires_at); });
    };
    return o;
  }
  size_t Redeemed() {
    PruneCounts counts;
    // Counted by pruning everything in a write that is then refused (nothing deleted).
    (void)store_->Write([&](StoreTxn& txn) -> Status {
      counts = CA_TRY(txn.PruneRedeemedNonces(INT64_MAX, 1000000));
      return Fail(ErrorCode::kFailedPrecondition, "count only");
    });
    return counts.nonces;
  }
  std::filesystem::path dir_;
  std::optional<AcmeStore> store_;
  int64_t now_ = 1'800'000'000;  // unix seconds
};

TEST_F(SharedNonceTest, IssuedByOneGatewayConsumedOnceByAnother) {
  NonceService a(300, Options("gw-a"));
  NonceService b(300, Options("gw-b"));
  ASSERT_TRUE(a.shared());
  std::string n = a.Issue();
  auto raw = *Base64UrlDecode(n);
  ASSERT_EQ(raw[0], 4);
  EXPECT_EQ(std::string(raw.begin() + 1, raw.begin() + 5), "gw-a");
  now_ += 10;
  EXPECT_EQ(b.Consume(n), NonceCheck::kOk);
  EXPECT_EQ(a.Consume(n), NonceCheck::kReplayed);  // the replay at the issuer is refused
  EXPECT_EQ(b.Consume(n), NonceCheck::kReplayed);
  EXPECT_EQ(a.Consume(b.Issue()), NonceCheck::kOk);  // and the other way round
  EXPECT_EQ(Redeemed(), 2u);
}

TEST_F(SharedNonceTest, ForgedOtherKeyMalformedAndExpired) {
  NonceService a(300, Options("gw-a"));
  NonceService other(300, Options("gw-x", Bytes(32, 0x17)));  // another pair's key
  EXPECT_EQ(a.Consume(other.Issue()), NonceCheck::kForged);
  std::string n = a.Issue();
  auto raw = *Base64UrlDecode(n);
  raw[1] ^= 1;  // another gateway id under the same MAC
  EXPECT_EQ(a.Consume(Base64UrlEncode(raw)), NonceCheck::kForged);
  raw = *Base64UrlDecode(n);
  raw[0] = 40;  // a length that does not fit
  EXPECT_EQ(a.Consume(Base64UrlEncode(raw)), NonceCheck::kMalformed);
  EXPECT_EQ(a.Consume("abc"), NonceCheck::kMalformed);
  NonceService single_box(300);
  EXPECT_EQ(a.Consume(single_box.Issue()), NonceCheck::kMalformed);
  EXPECT_EQ(single_box.Consume(n), NonceCheck::kMalformed);
  EXPECT_EQ(Redeemed(), 0u);  // refusals record nothing
  now_ += 301;
  EXPECT_EQ(a.Consume(n), NonceCheck::kExpired);
  now_ -= 301 + kMaxClockSkewSeconds + 1;  // the issuer's clock was ahead by more than the skew
  EXPECT_EQ(a.Consume(n), NonceCheck::kExpired);
  now_ += kMaxClockSkewSeconds;  // within the skew: accepted
  EXPECT_EQ(a.Consume(n), NonceCheck::kOk);
}

// Retention drops a redemption only `grace` after the nonce expired, so a wall clock stepped back
// by less than the grace finds the nonce expired, never fresh again.
TEST_F(SharedNonceTest, PrunedRedemptionCannotBeReplayedAfterAClockStepBack) {
  NonceService a(300, Options("gw-a"));
  std::string n = a.Issue();
  ASSERT_EQ(a.Consume(n), NonceCheck::kOk);
  RetentionOptions r;
  r.redeemed_nonce_grace_seconds = 3600;
  const int64_t issued = now_;
  StorePruner pruner(*store_, r, [this] { return now_; });
  now_ = issued + 300 + 3600 - 1;
  ASSERT_TRUE(pruner.RunOnce());
  EXPECT_EQ(Redeemed(), 1u);  // within the grace: kept
  now_ = issued + 300 + 3600 + 1;
  auto pruned = pruner.RunOnce();
  ASSERT_TRUE(pruned) << pruned.error().ToString();
  EXPECT_EQ(pruned->nonces, 1u);
  EXPECT_EQ(Redeemed(), 0u);
  now_ -= 3599;  // a step back shorter than the grace
  EXPECT_EQ(a.Consume(n), NonceCheck::kExpired);
}

TEST_F(SharedNonceTest, StoreFailureIsUnavailableAndBurnsNothing) {
  SharedNonceOptions o = Options("gw-a");
  bool down = true;
  auto redeem = o.redeem;
  o.redeem = [&](std::string_view id, int64_t expires_at) -> Status {
    if (down) return Fail(ErrorCode::kUnavailable, "store down");
    return redeem(id, expires_at);
  };
  NonceService a(300, std::move(o));
  std::string n = a.Issue();
  EXPECT_EQ(a.Consume(n), NonceCheck::kUnavailable);
  down = false;
  EXPECT_EQ(a.Consume(n), NonceCheck::kOk);
}

TEST(NonceKeyFile, ModeAndLengthAreChecked) {
  auto dir = std::filesystem::temp_directory_path() / ("gw-nonce-key-" + RandomUuidV4());
  std::filesystem::create_directory(dir);
  auto write = [&](const std::string& name, size_t size, mode_t mode) {
    std::string path = (dir / name).string();
    std::ofstream(path) << std::string(size, 'k');
    ::chmod(path.c_str(), mode);
    return path;
  };
  auto ok = LoadNonceKeyFile(write("ok", 32, 0640));
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(*ok, Bytes(32, 'k'));
  auto world = LoadNonceKeyFile(write("world", 32, 0644));
  ASSERT_FALSE(world);
  EXPECT_EQ(world.error().code, ErrorCode::kPermissionDenied);
  auto group_write = LoadNonceKeyFile(write("gw", 32, 0660));
  ASSERT_FALSE(group_write);
  EXPECT_EQ(group_write.error().code, ErrorCode::kPermissionDenied);
  auto short_key = LoadNonceKeyFile(write("short", 31, 0600));
  ASSERT_FALSE(short_key);
  EXPECT_NE(short_key.error().message.find("expected 32 bytes, found 31"), std::string::npos);
  EXPECT_FALSE(LoadNonceKeyFile((dir / "absent").string()));
  std::filesystem::remove_all(dir);
}

TEST(NonceKeyFile, GatewayIds) {
  EXPECT_TRUE(ValidGatewayId("node-a.example.lan"));
  EXPECT_FALSE(ValidGatewayId(""));
  EXPECT_FALSE(ValidGatewayId("a b"));
  EXPECT_FALSE(ValidGatewayId(std::string(33, 'a')));
}

}  // namespace
}  // namespace ca::gateway
