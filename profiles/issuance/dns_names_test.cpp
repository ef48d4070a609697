#include "profiles/issuance/dns_names.h"

#include <gtest/gtest.h>

#include "profiles/issuance/testing/test_pki.h"

namespace ca::profiles::issuance {
namespace {

TEST(DnsNamesTest, Syntax) {
  for (const char* ok :
       {"example.fr", "www.example.fr", "xn--hpital-fva.fr", "a-b.c1.fr", "*.example.fr"}) {
    EXPECT_TRUE(ValidateDnsName(ok)) << ok;
  }
  const std::pair<const char*, const char*> bad[] = {
      {"fr", "needs at least two labels"},
      {"Example.fr", "must be lower case"},
      {"example.fr.", "trailing dot"},
      {"a..fr", "empty label"},
      {"-a.fr", "starts or ends with '-'"},
      {"a_b.fr", "characters must be"},
      {"www.*.fr", "'*' is only allowed as the whole leftmost label"},
      {"*.fr", "needs at least two labels"},
      {"10.0.0.1", "IP addresses are not DNS names"},
      {"hôpital.fr", "characters must be"},
  };
  for (auto [name, why] : bad) {
    auto st = ValidateDnsName(name);
    ASSERT_FALSE(st) << name;
    EXPECT_NE(st.error().message.find(why), std::string::npos) << st.error().message;
  }
  EXPECT_FALSE(ValidateDnsName(std::string(64, 'a') + ".fr"));
  EXPECT_TRUE(ValidateDnsName(std::string(63, 'a') + ".fr"));
}

TEST(DnsNamesTest, ProfileRules) {
  Profile ssl = testing::RepoProfile(ProfileId::kSsl);
  Profile wild = testing::RepoProfile(ProfileId::kWild);
  std::vector<std::string> plain = {"a.example.fr", "b.example.fr"};
  std::vector<std::string> mixed = {"*.example.fr", "b.example.fr"};
  EXPECT_TRUE(ValidateNames(ssl, plain));
  EXPECT_FALSE(ValidateNames(ssl, mixed));
  auto st = ValidateNames(wild, mixed);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "name 'b.example.fr': profile WILD accepts wildcard names only");
  EXPECT_EQ(ValidateNames(ssl, std::vector<std::string>{"a.fr", "a.fr"}).error().message,
            "name 'a.fr': duplicate");
  EXPECT_EQ(ValidateNames(ssl, std::vector<std::string>{}).error().message, "no names");
  ssl.max_names = 1;
  EXPECT_EQ(ValidateNames(ssl, plain).error().message, "2 names exceed the profile's maximum of 1");
}

}  // namespace
}  // namespace ca::profiles::issuance
