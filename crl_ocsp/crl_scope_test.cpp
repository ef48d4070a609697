#include "crl_ocsp/crl_scope.h"

#include <gtest/gtest.h>

namespace ca::crl_ocsp {
namespace {

TEST(CrlScope, PathsRoundTrip) {
  EXPECT_EQ(CrlRelativePath("ca-2026", CrlScope::Full()), "crl/ca-2026.crl");
  EXPECT_EQ(CrlRelativePath("ca-2026", CrlScope::Shard(17)), "crl/ca-2026/17.crl");
  for (CrlScope scope : {CrlScope::Full(), CrlScope::Shard(0), CrlScope::Shard(1023)}) {
    auto parsed = ParseCrlRelativePath(CrlRelativePath("ca.x", scope));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->first, "ca.x");
    EXPECT_EQ(parsed->second, scope);
  }
}

TEST(CrlScope, RefusesWhatIsNotACrlPath) {
  for (std::string_view bad : {"crl/.crl", "crl/ca/.crl", "crl/ca/01.crl", "crl/ca/1024.crl",
                               "crl/ca/-1.crl", "crl/ca/1x.crl", "crl/ca/1/2.crl", "ocsp/ca.crl",
                               "crl/ca.der", "crl//1.crl", "crl/ca/99999.crl"})
    EXPECT_FALSE(ParseCrlRelativePath(bad)) << bad;
}

TEST(CrlScope, ShardUrlFromTheFullCrlUrl) {
  EXPECT_EQ(*CrlScopeUrl("http://ca.lan/crl/ca-2026.crl", CrlScope::Shard(7)),
            "http://ca.lan/crl/ca-2026/7.crl");
  EXPECT_EQ(*CrlScopeUrl("http://ca.lan/crl/ca-2026.crl", CrlScope::Full()),
            "http://ca.lan/crl/ca-2026.crl");
  EXPECT_FALSE(CrlScopeUrl("http://ca.lan/crl/ca-2026", CrlScope::Shard(1)));
  EXPECT_FALSE(CrlScopeUrl("http://ca.lan/x.crl", CrlScope::Shard(kMaxCrlShards)));
}

TEST(CrlShardOf, UniformOverTheShardsAndOffWithZero) {
  EXPECT_FALSE(CrlShardOf(pki::Serial::Generate(), 0));
  std::vector<int> counts(64);
  for (int i = 0; i < 64000; ++i) {
    auto k = CrlShardOf(pki::Serial::Generate(), 64);
    ASSERT_TRUE(k);
    ASSERT_LT(*k, 64u);
    ++counts[*k];
  }
  for (int c : counts) {  // 1000 expected; 6 standard deviations either side
    EXPECT_GT(c, 800);
    EXPECT_LT(c, 1200);
  }
  auto s = *pki::Serial::FromHex("7f0102030405060708090a");
  EXPECT_EQ(CrlShardOf(s, 1000), CrlShardOf(s, 1000));  // a function of the serial
  EXPECT_EQ(*CrlShardOf(s, 16), 0x0au % 16);
}

}  // namespace
}  // namespace ca::crl_ocsp
