#include "pki/json_fields.h"

#include <gtest/gtest.h>

namespace ca::pki {
namespace {

using nlohmann::json;

void ExpectError(const Error& e, std::string_view message) {
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.message, message);
}

TEST(JsonFieldsTest, ReadsEveryType) {
  json j = {{"s", "x"}, {"i", -3}, {"u", 7}, {"b", true}, {"l", {"a", "b"}}, {"o", {{"k", 1}}}};
  auto f = JsonFields::Of(j, "msg");
  ASSERT_TRUE(f);
  EXPECT_EQ(*f->String("s"), "x");
  EXPECT_EQ(*f->Int("i"), -3);
  EXPECT_EQ(*f->Uint("u"), 7u);
  EXPECT_EQ(*f->Bool("b"), true);
  EXPECT_EQ(*f->StringList("l"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ((*f->Object("o"))->at("k"), 1);
  EXPECT_TRUE(f->RefuseUnknown());
  EXPECT_FALSE(*f->OptionalString("absent"));
  EXPECT_FALSE(*f->OptionalInt("absent"));
  EXPECT_FALSE(*f->OptionalUint("absent"));
  EXPECT_FALSE(*f->OptionalBool("absent"));
  EXPECT_FALSE(*f->OptionalStringList("absent"));
  EXPECT_EQ(*f->OptionalObject("absent"), nullptr);
  EXPECT_EQ(**f->Value("i"), -3);
  EXPECT_FALSE(f->Value("absent"));
}

TEST(JsonFieldsTest, NamesTheFieldInEveryError) {
  json j = {{"s", 1}, {"i", "1"}, {"u", -1}, {"b", 0}, {"l", {"a", 2}}, {"o", json::array()}};
  auto f = JsonFields::Of(j, "revoke");
  ASSERT_TRUE(f);
  ExpectError(f->String("s").error(), "revoke.s: expected a string");
  ExpectError(f->Int("i").error(), "revoke.i: expected an integer");
  ExpectError(f->Uint("u").error(), "revoke.u: expected a non-negative integer");
  ExpectError(f->Bool("b").error(), "revoke.b: expected a boolean");
  ExpectError(f->StringList("l").error(), "revoke.l: expected an array of strings");
  ExpectError(f->Object("o").error(), "revoke.o: expected an object");
  ExpectError(f->String("gone").error(), "revoke.gone: missing");
  ExpectError(f->OptionalString("s").error(), "revoke.s: expected a string");
  ExpectError(f->Bad("s", "too long").error(), "revoke.s: too long");
}

TEST(JsonFieldsTest, RefusesUnknownFieldsAndNonObjects) {
  json j = {{"known", "x"}, {"extra", 1}};
  auto f = JsonFields::Of(j, "issue");
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->String("known"));
  ExpectError(f->RefuseUnknown().error(), "issue: unknown field 'extra'");
  f->MarkRead("extra");
  EXPECT_TRUE(f->RefuseUnknown());
  ExpectError(JsonFields::Of(json::array(), "issue").error(), "issue: expected a JSON object");
  json empty = json::object();
  auto top = JsonFields::Of(empty, "");
  ASSERT_TRUE(top);
  ExpectError(top->Int("v").error(), "v: missing");
}

TEST(JsonFieldsTest, NonEmptyStringsRefuseTheEmptyString) {
  json j = {{"path", "/x"}, {"empty", ""}, {"number", 1}};
  auto f = JsonFields::Of(j, "config");
  ASSERT_TRUE(f);
  EXPECT_EQ(*f->NonEmptyString("path"), "/x");
  EXPECT_FALSE(*f->OptionalNonEmptyString("absent"));
  ExpectError(f->NonEmptyString("empty").error(), "config.empty: expected a non-empty string");
  ExpectError(f->OptionalNonEmptyString("number").error(),
              "config.number: expected a non-empty string");
  ExpectError(f->NonEmptyString("absent").error(), "config.absent: missing");
}

TEST(JsonFieldsTest, BoundedIntegersNameTheirRange) {
  json j = {{"port", 443}, {"big", 70000}, {"neg", -1}, {"huge", 18446744073709551615ull}};
  auto f = JsonFields::Of(j, "config");
  ASSERT_TRUE(f);
  EXPECT_EQ(*f->IntIn("port", 1, 65535), 443);
  EXPECT_FALSE(*f->OptionalIntIn("absent", 1, 65535));
  ExpectError(f->IntIn("port", 444, 500).error(), "config.port: expected an integer in [444, 500]");
  ExpectError(f->IntIn("big", 1, 65535).error(), "config.big: expected an integer in [1, 65535]");
  ExpectError(f->OptionalIntIn("neg", 0, 5).error(), "config.neg: expected an integer in [0, 5]");
  ExpectError(f->IntIn("huge", 0, 5).error(), "config.huge: expected an integer in [0, 5]");
  ExpectError(f->IntIn("absent", 0, 5).error(), "config.absent: missing");
}

TEST(JsonFieldsTest, AllowOnlyListsTheAllowedFields) {
  json j = {{"a", 1}, {"b", 2}};
  auto f = JsonFields::Of(j, "root");
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->AllowOnly({"a", "b", "c"}));
  ExpectError(f->AllowOnly({"a", "c"}).error(), "root.b: unknown field (allowed here: a, c)");
  auto top = JsonFields::Of(j, "");
  ASSERT_TRUE(top);
  ExpectError(top->AllowOnly({"b"}).error(), "a: unknown field (allowed here: b)");
}

TEST(JsonFieldsTest, ArraysAreLeftToTheCaller) {
  json j = {{"list", {{{"k", 1}}, 2}}, {"s", "x"}};
  auto f = JsonFields::Of(j, "crl");
  ASSERT_TRUE(f);
  EXPECT_EQ((*f->OptionalArray("list"))->size(), 2u);
  EXPECT_EQ(*f->OptionalArray("absent"), nullptr);
  ExpectError(f->OptionalArray("s").error(), "crl.s: expected an array");
  EXPECT_TRUE(f->RefuseUnknown());
}

TEST(JsonFieldsTest, StoredRecordsFailAsCorrupt) {
  json j = {{"n", "x"}};
  auto f = JsonFields::Of(j, "cert record", ErrorCode::kCorrupt);
  ASSERT_TRUE(f);
  auto n = f->Int("n");
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, ErrorCode::kCorrupt);
  EXPECT_EQ(n.error().message, "cert record.n: expected an integer");
}

}  // namespace
}  // namespace ca::pki
