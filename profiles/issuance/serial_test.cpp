#include "profiles/issuance/serial.h"

#include <gtest/gtest.h>

#include <array>
#include <unordered_set>

namespace ca::issuance {
namespace {

TEST(SerialTest, MillionSerialsPositiveBoundedRandomUnique) {
  constexpr int kCount = 1000000;
  std::unordered_set<std::string> seen;
  seen.reserve(kCount);
  // Bit frequencies over the 143 random bits (right-aligned in 18 octets).
  std::array<int, kSerialRandomBytes * 8> ones{};
  for (int i = 0; i < kCount; ++i) {
    Serial s = GenerateSerial();
    ASSERT_TRUE(ValidateSerial(s)) << SerialToHex(s);
    auto asn1 = SerialToAsn1(s);
    ASSERT_TRUE(asn1);
    // Positive (not V_ASN1_NEG_INTEGER), and the DER encoding: tag, length, ≤ 20 content octets.
    ASSERT_EQ(ASN1_STRING_type(asn1->get()), V_ASN1_INTEGER);
    int der_len = i2d_ASN1_INTEGER(asn1->get(), nullptr);
    ASSERT_GE(der_len, 3);
    ASSERT_LE(der_len - 2, 20);
    ASSERT_LE(s.size(), kSerialRandomBytes);
    ASSERT_NE(s[0], 0);
    ASSERT_TRUE(seen.insert(std::string(s.begin(), s.end())).second) << "duplicate serial";
    size_t offset = kSerialRandomBytes - s.size();
    for (size_t byte = 0; byte < s.size(); ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        if ((s[byte] >> (7 - bit)) & 1) ++ones[(offset + byte) * 8 + static_cast<size_t>(bit)];
      }
    }
  }
  EXPECT_EQ(ones[0], 0);  // the sign bit
  // Every other bit is a fair coin: 143 ≥ 64 bits of entropy. 10^6 flips: σ = 500, allow 6σ.
  for (size_t bit = 1; bit < ones.size(); ++bit) {
    EXPECT_NEAR(ones[bit], kCount / 2, 3000) << "bit " << bit;
  }
}

TEST(SerialTest, HexAndAsn1RoundTrip) {
  Serial s = GenerateSerial();
  auto back = SerialFromHex(SerialToHex(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, s);
  auto asn1 = SerialToAsn1(s);
  ASSERT_TRUE(asn1);
  EXPECT_EQ(*SerialFromAsn1(asn1->get()), s);
}

TEST(SerialTest, RefusesBadSerials) {
  EXPECT_FALSE(ValidateSerial({}));
  EXPECT_FALSE(ValidateSerial(Serial{0x00, 0x01}));
  EXPECT_TRUE(ValidateSerial(Serial(20, 0x7f)));
  auto too_long = ValidateSerial(Serial(20, 0x80));  // needs a 21st octet in DER
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().message, "serial: 21 octets exceed 20 (RFC 5280)");
  EXPECT_FALSE(SerialFromHex("zz"));
  ossl::Asn1Integer negative(ASN1_INTEGER_new());
  ASN1_INTEGER_set(negative.get(), -5);
  auto neg = SerialFromAsn1(negative.get());
  ASSERT_FALSE(neg);
  EXPECT_EQ(neg.error().message, "serial: negative");
}

}  // namespace
}  // namespace ca::issuance
