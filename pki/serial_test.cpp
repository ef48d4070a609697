#include "pki/serial.h"

#include <gtest/gtest.h>

#include <array>
#include <unordered_set>

namespace ca::pki {
namespace {

TEST(SerialTest, GeneratedSerialsArePositiveBoundedRandomUnique) {
  constexpr int kCount = 200000;
  std::unordered_set<std::string> seen;
  seen.reserve(kCount);
  // Bit frequencies over the 143 random bits (right-aligned in 18 octets).
  std::array<int, kSerialRandomBytes * 8> ones{};
  for (int i = 0; i < kCount; ++i) {
    Serial s = Serial::Generate();
    ASSERT_TRUE(s.Validate()) << s.Hex();
    auto asn1 = s.ToAsn1();
    ASSERT_TRUE(asn1);
    // Positive (not V_ASN1_NEG_INTEGER), and the DER encoding: tag, length, ≤ 20 content octets.
    ASSERT_EQ(ASN1_STRING_type(asn1->get()), V_ASN1_INTEGER);
    int der_len = i2d_ASN1_INTEGER(asn1->get(), nullptr);
    ASSERT_GE(der_len, 3);
    ASSERT_LE(der_len - 2, 20);
    const auto& m = s.magnitude;
    ASSERT_LE(m.size(), kSerialRandomBytes);
    ASSERT_NE(m[0], 0);
    ASSERT_TRUE(seen.insert(s.Hex()).second) << "duplicate serial";
    size_t offset = kSerialRandomBytes - m.size();
    for (size_t byte = 0; byte < m.size(); ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        if ((m[byte] >> (7 - bit)) & 1) ++ones[(offset + byte) * 8 + static_cast<size_t>(bit)];
      }
    }
  }
  EXPECT_EQ(ones[0], 0);  // the sign bit
  // Every other bit is a fair coin. 2·10^5 flips: σ ≈ 224, allow 6σ.
  for (size_t bit = 1; bit < ones.size(); ++bit) {
    EXPECT_NEAR(ones[bit], kCount / 2, 1350) << "bit " << bit;
  }
}

TEST(SerialTest, HexBytesAndAsn1RoundTrip) {
  Serial s = Serial::Generate();
  auto from_hex = Serial::FromHex(s.Hex());
  ASSERT_TRUE(from_hex);
  EXPECT_EQ(*from_hex, s);
  auto from_bytes = Serial::FromBytes(s.magnitude);
  ASSERT_TRUE(from_bytes);
  EXPECT_EQ(*from_bytes, s);
  auto asn1 = s.ToAsn1();
  ASSERT_TRUE(asn1);
  EXPECT_EQ(*Serial::FromAsn1(asn1->get()), s);
}

TEST(SerialTest, CanonicalHexIsLowerEvenMinimal) {
  EXPECT_EQ(Serial::FromBytes(std::vector<uint8_t>{0x00, 0x0a, 0x1b})->Hex(), "0a1b");
  EXPECT_EQ(Serial::FromBytes(std::vector<uint8_t>{0xff})->Hex(), "ff");
  EXPECT_TRUE(Serial::FromHex("0a1b"));
  // Every other spelling of the same number is refused on the machine path...
  for (const char* bad : {"a1b", "0A1B", "000a1b", "0a:1b", "", "00", "zz", "0a1"}) {
    auto s = Serial::FromHex(bad);
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  }
  // ...and normalized on the operator path.
  for (const char* typed : {"a1b", "0A1B", "000a1b", "0a:1b", "0A:1B", "0a1b"}) {
    auto s = Serial::FromOperatorHex(typed);
    ASSERT_TRUE(s) << typed;
    EXPECT_EQ(s->Hex(), "0a1b") << typed;
  }
  EXPECT_FALSE(Serial::FromOperatorHex(""));
  EXPECT_FALSE(Serial::FromOperatorHex("0"));
  EXPECT_FALSE(Serial::FromOperatorHex("0x1b"));
  EXPECT_FALSE(Serial::FromOperatorHex("1g"));
}

TEST(SerialTest, Ordering) {
  EXPECT_LT(*Serial::FromHex("01"), *Serial::FromHex("02"));
  EXPECT_EQ(*Serial::FromOperatorHex("1"), *Serial::FromHex("01"));
}

TEST(SerialTest, RefusesBadSerials) {
  EXPECT_FALSE(Serial().Validate());
  EXPECT_FALSE(Serial::FromBytes(std::vector<uint8_t>{0x00, 0x00}));
  EXPECT_TRUE(Serial::FromBytes(std::vector<uint8_t>(20, 0x7f))->Validate());
  auto too_long = Serial::FromBytes(std::vector<uint8_t>(20, 0x80))->Validate();  // 21 in DER
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().message, "serial: 21 octets exceed 20 (RFC 5280)");
  EXPECT_FALSE(Serial::FromBytes(std::vector<uint8_t>(21, 0x01)));
  ossl::Asn1Integer negative(ASN1_INTEGER_new());
  ASN1_INTEGER_set(negative.get(), -5);
  auto neg = Serial::FromAsn1(negative.get());
  ASSERT_FALSE(neg);
  EXPECT_EQ(neg.error().message, "serial: negative");
  ossl::Asn1Integer zero(ASN1_INTEGER_new());
  ASN1_INTEGER_set(zero.get(), 0);
  EXPECT_FALSE(Serial::FromAsn1(zero.get()));
}

}  // namespace
}  // namespace ca::pki
