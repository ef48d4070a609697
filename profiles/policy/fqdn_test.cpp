#include "profiles/policy/fqdn.h"

#include <gtest/gtest.h>

namespace ca::profiles::policy {
namespace {

TEST(Fqdn, NormalisesCaseAndTrailingDot) {
  EXPECT_EQ(*NormalizeFqdn("WWW.Example.COM.", false), "www.example.com");
  EXPECT_EQ(*NormalizeFqdn("a-b.example.fr", false), "a-b.example.fr");
}

TEST(Fqdn, Wildcards) {
  EXPECT_EQ(*NormalizeFqdn("*.Example.com", true), "*.example.com");
  auto no = NormalizeFqdn("*.example.com", false);
  ASSERT_FALSE(no);
  EXPECT_NE(no.error().message.find("wildcard not allowed"), std::string::npos);
  EXPECT_FALSE(NormalizeFqdn("a.*.example.com", true));
  EXPECT_FALSE(NormalizeFqdn("*a.example.com", true));
  EXPECT_FALSE(NormalizeFqdn("*.com", true));  // needs two labels after the wildcard
}

TEST(Fqdn, RejectsBadSyntax) {
  for (const char* bad : {"", ".", "example", "-a.example.com", "a-.example.com", "a..example.com",
                          "a_b.example.com", "a b.example.com", "192.168.1.1", "ab--cd.example.com",
                          "example.com..", "a.example.com/x"}) {
    auto r = NormalizeFqdn(bad, true);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

TEST(Fqdn, LengthLimits) {
  std::string label63(63, 'a');
  EXPECT_TRUE(NormalizeFqdn(label63 + ".example.com", false));
  EXPECT_FALSE(NormalizeFqdn(std::string(64, 'a') + ".example.com", false));
  // 4 * 63 + 3 dots = 255 > 253.
  std::string long_name = label63 + "." + label63 + "." + label63 + "." + label63;
  auto r = NormalizeFqdn(long_name, false);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("253"), std::string::npos);
  std::string ok_name = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  EXPECT_EQ(ok_name.size(), 253u);
  EXPECT_TRUE(NormalizeFqdn(ok_name, false));
}

TEST(Fqdn, ULabelRefusedWithHint) {
  auto r = NormalizeFqdn("bücher.example", false);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("A-label"), std::string::npos);
}

TEST(Fqdn, ALabelsArePunycodeChecked) {
  EXPECT_EQ(*NormalizeFqdn("XN--BCHER-KVA.example", false), "xn--bcher-kva.example");
  EXPECT_TRUE(NormalizeFqdn("xn--caf-dma.fr", false));  // café
  EXPECT_FALSE(NormalizeFqdn("xn--.example.com", false));
  EXPECT_FALSE(NormalizeFqdn("xn--abc.example.com", false));       // decodes to ASCII only? invalid
  EXPECT_FALSE(NormalizeFqdn("xn--a-.example.com", false));        // ends with hyphen
  EXPECT_FALSE(NormalizeFqdn("xn--99999999.example.com", false));  // overflow / out of range
}

TEST(Punycode, DecodesRfc3492Samples) {
  auto d = PunycodeDecode("bcher-kva");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, U"bücher");
  auto c = PunycodeDecode("caf-dma");
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, U"café");
  // RFC 3492 7.1 (B) Chinese (simplified).
  auto zh = PunycodeDecode("ihqwcrb4cv8a8dqg056pqjye");
  ASSERT_TRUE(zh);
  EXPECT_EQ(*zh, U"\u4ed6\u4eec\u4e3a\u4ec0\u4e48\u4e0d\u8bf4\u4e2d\u6587");
  EXPECT_FALSE(PunycodeDecode("abc!"));
  EXPECT_FALSE(PunycodeDecode("b"));  // truncated
}

}  // namespace
}  // namespace ca::profiles::policy
