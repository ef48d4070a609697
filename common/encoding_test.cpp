#include "common/encoding.h"

#include <gtest/gtest.h>

namespace ca {
namespace {

TEST(Base64Url, RoundTripsWithoutPadding) {
  for (size_t n = 0; n < 40; ++n) {
    Bytes data = RandomBytes(n);
    std::string text = Base64UrlEncode(data);
    EXPECT_EQ(text.find('='), std::string::npos);
    auto back = Base64UrlDecode(text);
    ASSERT_TRUE(back.has_value()) << back.error().ToString();
    EXPECT_EQ(*back, data);
  }
}

TEST(Base64Url, KnownVector) {
  EXPECT_EQ(Base64UrlEncode(AsBytes("\xfb\xff")), "-_8");
  EXPECT_EQ(Base64Encode(AsBytes("\xfb\xff")), "+/8=");
}

TEST(Base64Url, RejectsPaddingAndForeignCharacters) {
  EXPECT_FALSE(Base64UrlDecode("YQ==").has_value());
  EXPECT_FALSE(Base64UrlDecode("a+b/").has_value());
  EXPECT_FALSE(Base64UrlDecode("A").has_value());
  EXPECT_FALSE(Base64UrlDecode("YR").has_value());  // non-canonical trailing bits
}

TEST(Hex, RoundTrip) {
  Bytes b{0x00, 0xab, 0xff};
  EXPECT_EQ(HexEncode(b), "00abff");
  EXPECT_EQ(*HexDecode("00ABff"), b);
  EXPECT_FALSE(HexDecode("0g").has_value());
}

TEST(Uuid, IsVersion4) {
  std::string u = RandomUuidV4();
  ASSERT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '4');
  EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos);
  EXPECT_NE(RandomUuidV4(), u);
}

TEST(Sha256, KnownVector) {
  EXPECT_EQ(HexEncode(Sha256(std::string_view("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace ca
