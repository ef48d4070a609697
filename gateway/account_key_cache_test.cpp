#include "gateway/account_key_cache.h"

#include <gtest/gtest.h>
#include <openssl/ec.h>

#include <string>

namespace ca::gateway {
namespace {

EVP_PKEY* NewKey() {
  return EVP_EC_gen("P-256");
}

TEST(AccountKeyCache, FindsWhatWasInsertedAndKeepsTheFirstOfTwoConcurrentImports) {
  AccountKeyCache cache(8);
  EXPECT_EQ(cache.Find("tp1"), nullptr);
  EVP_PKEY* raw = NewKey();
  auto inserted = cache.Insert("tp1", raw);
  EXPECT_EQ(inserted.get(), raw);
  EXPECT_EQ(cache.Find("tp1").get(), raw);
  auto second = cache.Insert("tp1", NewKey());  // freed: the cached one wins
  EXPECT_EQ(second.get(), raw);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(AccountKeyCache, EraseDropsTheEntryButHoldersKeepTheKey) {
  AccountKeyCache cache(8);
  auto held = cache.Insert("tp1", NewKey());
  cache.Erase("tp1");
  EXPECT_EQ(cache.Find("tp1"), nullptr);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(EVP_PKEY_get_bits(held.get()), 256);  // still alive for the request holding it
  cache.Erase("absent");
}

TEST(AccountKeyCache, IsBoundedAndEvictsTheLeastRecentlyUsed) {
  AccountKeyCache cache(3);
  cache.Insert("a", NewKey());
  cache.Insert("b", NewKey());
  cache.Insert("c", NewKey());
  ASSERT_NE(cache.Find("a"), nullptr);  // a is now the most recently used
  cache.Insert("d", NewKey());
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.Find("b"), nullptr);
  EXPECT_NE(cache.Find("a"), nullptr);
  EXPECT_NE(cache.Find("c"), nullptr);
  EXPECT_NE(cache.Find("d"), nullptr);
}

}  // namespace
}  // namespace ca::gateway
