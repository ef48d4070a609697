#include "dns/dns_client.h"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include "gateway/validation/testing/fixture.h"
#include "gateway/validation/testing/test_servers.h"

namespace ca::dns {
namespace {

namespace vt = ca::gateway::validation::testing;
using vt::ChallTestSrvSuite;

class DnsClientTest : public ChallTestSrvSuite {
 protected:
  DnsClient Client() {
    auto c = DnsClient::Create(srv_->dns_address(), std::chrono::seconds(1), 1);
    EXPECT_TRUE(c) << c.error().ToString();
    return *c;
  }
};

TEST_F(DnsClientTest, ManyTxtValuesAtOneNameComeBackOverTcpFallback) {
  // ~100 values of 43 characters do not fit a 512-byte UDP answer: the server truncates or the
  // answer arrives in one large datagram; either way every value must come back.
  for (int i = 0; i < 100; ++i) {
    Post("/set-txt", {{"host", "many.dnsclient.test."},
                      {"value", "value-" + std::to_string(i) + std::string(37, 'x')}});
  }
  auto answer = Client().Txt("many.dnsclient.test");
  ASSERT_TRUE(answer) << answer.error().ToString();
  EXPECT_EQ(answer->status, DnsStatus::kOk);
  ASSERT_EQ(answer->records.size(), 100u);
  std::set<std::string> values(answer->records.begin(), answer->records.end());
  EXPECT_TRUE(values.contains("value-0" + std::string(37, 'x')));
  EXPECT_TRUE(values.contains("value-99" + std::string(37, 'x')));
}

TEST_F(DnsClientTest, FollowsCnameAndReportsTheChain) {
  Post("/set-cname", {{"host", "alias.dnsclient.test."}, {"target", "real.dnsclient.test."}});
  Post("/set-txt", {{"host", "real.dnsclient.test."}, {"value", "hello"}});
  auto answer = Client().Txt("Alias.DnsClient.Test.");
  ASSERT_TRUE(answer) << answer.error().ToString();
  ASSERT_EQ(answer->records, std::vector<std::string>{"hello"});
  EXPECT_EQ(answer->final_name, "real.dnsclient.test");
  EXPECT_EQ(answer->cname_chain, std::vector<std::string>{"real.dnsclient.test"});
}

TEST_F(DnsClientTest, AddressesAndNoData) {
  Post("/add-a", {{"host", "www.dnsclient.test."}, {"addresses", {"192.0.2.7", "192.0.2.8"}}});
  auto a = Client().Addresses("www.dnsclient.test", AF_INET);
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_EQ(a->records, (std::vector<std::string>{"192.0.2.7", "192.0.2.8"}));
  auto txt = Client().Txt("nothing-here.dnsclient.test");
  ASSERT_TRUE(txt) << txt.error().ToString();
  EXPECT_EQ(txt->status, DnsStatus::kNoData);
  EXPECT_TRUE(txt->records.empty());
}

TEST_F(DnsClientTest, ServfailIsAnAnswerAndSilenceIsUnavailable) {
  Post("/set-servfail", {{"host", "broken.dnsclient.test."}});
  auto answer = Client().Txt("broken.dnsclient.test");
  ASSERT_TRUE(answer) << answer.error().ToString();
  EXPECT_EQ(answer->status, DnsStatus::kServFail);

  auto port = vt::FreePort();
  ASSERT_TRUE(port);
  auto silent = DnsClient::Create("127.0.0.1:" + std::to_string(*port), std::chrono::seconds(1), 1);
  ASSERT_TRUE(silent);
  auto none = silent->Txt("example.test");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(none.error().message.find("no answer from resolver"), std::string::npos)
      << none.error().message;
}

TEST_F(DnsClientTest, ParsesCaaFlagsTagAndValue) {
  vt::TinyCaaDns dns;
  dns.Set("caa.dnsclient.test",
          {{128, "tbs", "x"}, {0, "issue", "acme-ca.example; accounturi=https://a/1"}});
  auto client = DnsClient::Create(dns.address(), std::chrono::seconds(1), 1);
  ASSERT_TRUE(client);
  auto answer = client->Caa("caa.dnsclient.test");
  ASSERT_TRUE(answer) << answer.error().ToString();
  ASSERT_EQ(answer->records.size(), 2u);
  EXPECT_TRUE(answer->records[0].critical());
  EXPECT_EQ(answer->records[0].tag, "tbs");
  EXPECT_FALSE(answer->records[1].critical());
  EXPECT_EQ(answer->records[1].tag, "issue");
  EXPECT_EQ(answer->records[1].value, "acme-ca.example; accounturi=https://a/1");
}

TEST(DnsNameTest, NormalizesAndRefuses) {
  EXPECT_EQ(NormalizeDnsName("WWW.Example.COM.").value(), "www.example.com");
  EXPECT_EQ(NormalizeDnsName("_acme-challenge.a.b").value(), "_acme-challenge.a.b");
  EXPECT_FALSE(NormalizeDnsName("a..b"));
  EXPECT_FALSE(NormalizeDnsName("-a.b"));
  EXPECT_FALSE(NormalizeDnsName("a b.c"));
  EXPECT_FALSE(NormalizeDnsName(std::string(64, 'a') + ".b"));
  EXPECT_FALSE(DnsClient::Create("resolver.example:53", std::chrono::seconds(1), 1));
}

}  // namespace
}  // namespace ca::dns
