#include "pki/revocation_reason.h"

#include <gtest/gtest.h>

namespace ca::pki {
namespace {

TEST(RevocationReasonTest, NamesAndCodesRoundTrip) {
  const std::pair<int, std::string_view> kExpected[] = {
      {0, "unspecified"},        {1, "keyCompromise"}, {2, "cACompromise"},
      {3, "affiliationChanged"}, {4, "superseded"},    {5, "cessationOfOperation"},
      {9, "privilegeWithdrawn"}, {10, "aACompromise"},
  };
  for (const auto& [code, name] : kExpected) {
    auto from_code = ReasonFromCode(code);
    ASSERT_TRUE(from_code) << code;
    EXPECT_EQ(ReasonCode(*from_code), code);
    EXPECT_EQ(ReasonName(*from_code), name);
    auto from_name = ParseReason(name);
    ASSERT_TRUE(from_name) << name;
    EXPECT_EQ(*from_name, *from_code);
  }
}

TEST(RevocationReasonTest, RefusesHoldRemoveAndUnknown) {
  for (int code : {-1, 6, 7, 8, 11}) {
    auto r = ReasonFromCode(code);
    ASSERT_FALSE(r) << code;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  for (const char* name : {"certificateHold", "removeFromCRL", "KeyCompromise", ""}) {
    EXPECT_FALSE(ParseReason(name)) << name;
  }
  EXPECT_EQ(ReasonName(static_cast<RevocationReason>(6)), "invalid");
}

}  // namespace
}  // namespace ca::pki
