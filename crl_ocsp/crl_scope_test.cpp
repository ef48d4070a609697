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

}  // namespace
}  // namespace ca::crl_ocsp
