#include "pki/time.h"

#include <gtest/gtest.h>

namespace ca::pki {
namespace {

TEST(TimeTest, Rfc3339RoundTrip) {
  EXPECT_EQ(FormatRfc3339(int64_t{0}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(int64_t{1769860800}), "2026-01-31T12:00:00Z");
  auto t = ParseRfc3339("2026-01-31T12:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(ToUnix(*t), 1769860800);
  EXPECT_EQ(ToUnix(*ParseRfc3339("2028-02-29T23:59:59Z")),
            ToUnix(*ParseRfc3339("2028-03-01T00:00:00Z")) - 1);
  Time now = Now();
  EXPECT_EQ(*ParseRfc3339(FormatRfc3339(now)), now);
}

TEST(TimeTest, Rfc3339RefusesOtherForms) {
  for (const char* shape :
       {"2026-01-31", "2026-01-31T12:00:00+01:00", "2026-01-31T12:00:00.5Z", "2026-01-31 12:00:00Z",
        "2026-1-31T12:00:00Z", "", "x026-01-31T12:00:00Z"}) {
    auto t = ParseRfc3339(shape);
    ASSERT_FALSE(t) << shape;
    EXPECT_NE(t.error().message.find("is not a UTC time like"), std::string::npos) << shape;
  }
  for (const char* invalid :
       {"2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-31T24:00:00Z",
        "2027-02-29T00:00:00Z", "2026-00-10T00:00:00Z"}) {
    auto t = ParseRfc3339(invalid);
    ASSERT_FALSE(t) << invalid;
    EXPECT_NE(t.error().message.find("is not a valid date and time"), std::string::npos) << invalid;
  }
}

TEST(TimeTest, Asn1RoundTrip) {
  for (int64_t seconds : {int64_t{1769860800}, int64_t{2556144000} /* 2051: GeneralizedTime */}) {
    auto asn1 = ToAsn1Time(FromUnix(seconds));
    ASSERT_TRUE(asn1);
    EXPECT_EQ(ASN1_STRING_type(asn1->get()),
              seconds < 2524608000 ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME);
    auto back = FromAsn1Time(asn1->get());
    ASSERT_TRUE(back);
    EXPECT_EQ(ToUnix(*back), seconds);
  }
  EXPECT_FALSE(FromAsn1Time(nullptr));
}

}  // namespace
}  // namespace ca::pki
