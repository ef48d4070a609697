#include "gateway/record_cache.h"

#include <gtest/gtest.h>

namespace ca::gateway {
namespace {

OrderRecord Order(OrderStatus status) {
  OrderRecord o;
  o.id = "o1";
  o.status = status;
  return o;
}

TEST(RecordCache, HitsOnlyForTheExactBytesItDecoded) {
  RecordCache cache(8);
  cache.Put(3, "o1", R"({"status":"pending"})", Order(OrderStatus::kPending));
  auto hit = cache.Find(3, "o1", R"({"status":"pending"})");
  ASSERT_TRUE(hit);
  EXPECT_EQ(std::get<OrderRecord>(*hit).status, OrderStatus::kPending);
  EXPECT_FALSE(cache.Find(3, "o1", R"({"status":"ready"})"));    // the record changed: decode again
  EXPECT_FALSE(cache.Find(4, "o1", R"({"status":"pending"})"));  // another database
  cache.Put(3, "o1", R"({"status":"ready"})", Order(OrderStatus::kReady));
  EXPECT_FALSE(cache.Find(3, "o1", R"({"status":"pending"})"));
  EXPECT_EQ(std::get<OrderRecord>(*cache.Find(3, "o1", R"({"status":"ready"})")).status, OrderStatus::kReady);
}

TEST(RecordCache, IsBounded) {
  RecordCache cache(2);
  cache.Put(1, "a", "A", Order(OrderStatus::kPending));
  cache.Put(1, "b", "B", Order(OrderStatus::kReady));
  cache.Put(1, "c", "C", Order(OrderStatus::kValid));  // full: emptied first
  EXPECT_FALSE(cache.Find(1, "a", "A"));
  EXPECT_TRUE(cache.Find(1, "c", "C"));
}

}  // namespace
}  // namespace ca::gateway
