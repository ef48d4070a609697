#include "gateway/validation/networks.h"

#include <gtest/gtest.h>

#include <vector>

namespace ca::gateway::validation {
namespace {

IpAddress Ip(const char* text) {
  auto a = IpAddress::Parse(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(IpAddress{});
}

std::vector<IpNetwork> Nets(std::initializer_list<const char*> texts) {
  std::vector<IpNetwork> out;
  for (const char* t : texts) {
    auto n = IpNetwork::Parse(t);
    EXPECT_TRUE(n) << t << ": " << n.error().ToString();
    if (n) out.push_back(*n);
  }
  return out;
}

// nullopt (may dial) -> "", otherwise the reason.
std::string Why(const char* address, const std::vector<IpNetwork>& allowed,
                const std::vector<IpAddress>& local = {}) {
  return RefuseDial(Ip(address), allowed, local).value_or("");
}

TEST(NetworksTest, ParsesNetworksStrictly) {
  EXPECT_EQ(IpNetwork::Parse("10.0.0.0/8")->ToString(), "10.0.0.0/8");
  EXPECT_EQ(IpNetwork::Parse("192.0.2.7")->ToString(), "192.0.2.7/32");
  EXPECT_EQ(IpNetwork::Parse("fd00::/8")->ToString(), "fd00::/8");
  EXPECT_EQ(IpNetwork::Parse("::/0")->ToString(), "::/0");
  for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x",
                          "example.com/8", "", "::ffff:10.0.0.0/104", "fe80::1%eth0/64"}) {
    EXPECT_FALSE(IpNetwork::Parse(bad)) << bad;
  }
  EXPECT_NE(IpNetwork::Parse("10.0.0.1/8").error().message.find("did you mean 10.0.0.0/8"),
            std::string::npos);
}

TEST(NetworksTest, ContainsRespectsPrefixAndFamily) {
  auto n = Nets({"172.16.0.0/12", "2001:db8::/33"});
  EXPECT_TRUE(n[0].Contains(Ip("172.31.255.255")));
  EXPECT_FALSE(n[0].Contains(Ip("172.32.0.0")));
  EXPECT_TRUE(n[1].Contains(Ip("2001:db8:7fff::1")));
  EXPECT_FALSE(n[1].Contains(Ip("2001:db8:8000::1")));
  EXPECT_FALSE(n[0].Contains(Ip("::1")));
}

TEST(NetworksTest, Ipv4MappedIpv6IsJudgedAsIpv4) {
  EXPECT_EQ(Ip("::ffff:127.0.0.1"), Ip("127.0.0.1"));
  EXPECT_NE(Why("::ffff:127.0.0.1", Nets({"0.0.0.0/0", "::/0"})), "");
  EXPECT_EQ(Why("::ffff:10.1.2.3", Nets({"10.0.0.0/8"})), "");
}

TEST(NetworksTest, OnlyListedNetworksMayBeDialed) {
  auto lan = Nets({"10.0.0.0/8", "fd00::/8"});
  EXPECT_EQ(Why("10.20.30.40", lan), "");
  EXPECT_EQ(Why("fd12::1", lan), "");
  EXPECT_NE(Why("192.168.1.1", lan).find("not in the validator's allowed networks"),
            std::string::npos);
  EXPECT_NE(Why("10.0.0.1", {}), "");  // nothing listed: nothing dialed
}

TEST(NetworksTest, LoopbackAndLinkLocalNeedANetworkInsideThem) {
  auto everything = Nets({"0.0.0.0/0", "::/0"});
  EXPECT_NE(Why("127.0.0.1", everything).find("loopback"), std::string::npos);
  EXPECT_NE(Why("127.9.9.9", everything).find("loopback"), std::string::npos);
  EXPECT_NE(Why("::1", everything).find("loopback"), std::string::npos);
  EXPECT_NE(Why("169.254.169.254", everything).find("link-local"), std::string::npos);
  EXPECT_NE(Why("fe80::1", everything).find("link-local"), std::string::npos);
  EXPECT_EQ(Why("8.8.8.8", everything), "");
  // Listed explicitly (the dev appliance and the tests list loopback).
  EXPECT_EQ(Why("127.0.0.1", Nets({"127.0.0.0/8"})), "");
  EXPECT_EQ(Why("127.0.0.3", Nets({"127.0.0.3/32"})), "");
  EXPECT_NE(Why("127.0.0.2", Nets({"127.0.0.3/32"})), "");
  EXPECT_EQ(Why("169.254.10.1", Nets({"169.254.10.0/24"})), "");
  EXPECT_EQ(Why("fe80::1", Nets({"fe80::/10"})), "");
}

TEST(NetworksTest, NeverDialedWhateverIsListed) {
  auto everything = Nets({"0.0.0.0/0", "::/0"});
  for (const char* a :
       {"0.0.0.0", "0.1.2.3", "::", "224.0.0.1", "239.1.1.1", "255.255.255.255", "ff02::1"}) {
    EXPECT_NE(Why(a, everything), "") << a;
    EXPECT_NE(Why(a, Nets({a})), "") << a;
  }
}

TEST(NetworksTest, OwnAddressesNeedTheirOwnEntry) {
  std::vector<IpAddress> local = {Ip("10.1.1.5"), Ip("127.0.0.1"), Ip("fd00::5")};
  auto lan = Nets({"10.0.0.0/8", "fd00::/8", "127.0.0.0/8"});
  EXPECT_NE(Why("10.1.1.5", lan, local).find("address of this appliance"), std::string::npos);
  EXPECT_NE(Why("fd00::5", lan, local).find("address of this appliance"), std::string::npos);
  EXPECT_EQ(Why("10.1.1.6", lan, local), "");
  // Loopback follows the loopback rule (listed here), not the own-address rule.
  EXPECT_EQ(Why("127.0.0.1", lan, local), "");
  auto listed = Nets({"10.0.0.0/8", "10.1.1.5/32"});
  EXPECT_EQ(Why("10.1.1.5", listed, local), "");
}

TEST(NetworksTest, LocalInterfaceAddressesIncludeLoopback) {
  auto local = LocalInterfaceAddresses();
  EXPECT_NE(std::find(local.begin(), local.end(), Ip("127.0.0.1")), local.end());
  // The cached form holds the same addresses (no address changes while the test runs), again.
  for (int i = 0; i < 2; ++i) EXPECT_EQ(CachedLocalInterfaceAddresses(), local);
}

}  // namespace
}  // namespace ca::gateway::validation
