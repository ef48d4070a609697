// http-01 and tls-alpn-01 against hostile responders on real loopback sockets: names and redirects
// that lead outside validation.allowed_networks, Location headers built to inject into the
// validator's request, and bodies that must not come back in the problem detail.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "gateway/validation/testing/fixture.h"
#include "gateway/validation/testing/test_servers.h"

namespace ca::gateway::validation {
namespace {

using testing::ChallTestSrvSuite;
using testing::TinyServer;

constexpr char kThumbprint[] = "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

class HostileResponderTest : public ChallTestSrvSuite {
 protected:
  static ChallengeRequest Request(const std::string& name, const std::string& token,
                                  ChallengeType type = ChallengeType::kHttp01) {
    return {type, name, token, KeyAuthorization(token, kThumbprint), testing::kAccountUri, false};
  }
  static std::vector<IpNetwork> Nets(std::initializer_list<const char*> texts) {
    std::vector<IpNetwork> out;
    for (const char* t : texts) out.push_back(IpNetwork::Parse(t).value());
    return out;
  }
  static void Expect(const Outcome& out, ProblemType problem, const std::string& fragment) {
    ASSERT_EQ(out.kind, OutcomeKind::kInvalid) << OutcomeToString(out);
    EXPECT_EQ(out.problem, problem) << OutcomeToString(out);
    EXPECT_NE(out.detail.find(fragment), std::string::npos) << out.detail;
  }
};

TEST_F(HostileResponderTest, NameInAnUnlistedNetworkIsNeverDialed) {
  TinyServer http(TinyServer::Mode::kHttp,
                  [](const std::string&) { return TinyServer::Response(200, "x"); });
  auto c = Config();
  c.http01_port = http.port();
  c.allowed_networks = Nets({"10.0.0.0/8"});
  Expect(Validate(c, Request("lan.hostile.test", "tokLan")), ProblemType::kConnection,
         "lan.hostile.test resolves to 127.0.0.1 (it is not in the validator's allowed networks)");
  c.allowed_networks = Nets({"0.0.0.0/0", "::/0"});  // everything listed, loopback still refused
  Expect(Validate(c, Request("lan.hostile.test", "tokLan")), ProblemType::kConnection,
         "it is a loopback address");
  c.allowed_networks = {};
  Expect(Validate(c, Request("lan.hostile.test", "tokLan")), ProblemType::kConnection,
         "validation.allowed_networks");
  EXPECT_EQ(http.requests(), 0);
}

TEST_F(HostileResponderTest, TlsAlpnToAnUnlistedNetworkIsNeverDialed) {
  auto cert = testing::MakeCert({"alpn.hostile.test"});
  TinyServer alpn(TinyServer::Mode::kTlsAlpn, nullptr, &cert);
  auto c = Config();
  c.tlsalpn01_port = alpn.port();
  c.allowed_networks = Nets({"192.168.0.0/16"});
  Expect(Validate(c, Request("alpn.hostile.test", "tokAlpn", ChallengeType::kTlsAlpn01)),
         ProblemType::kConnection, "resolves to 127.0.0.1");
  EXPECT_EQ(alpn.requests(), 0);
}

TEST_F(HostileResponderTest, RedirectIntoAnUnlistedNetworkIsNeverDialed) {
  // The challenge's own responder is on a listed address; it redirects to a name whose address is
  // not listed, where a listener counts connections.
  TinyServer inside(
      TinyServer::Mode::kHttp,
      [](const std::string&) { return TinyServer::Response(200, "secret"); }, nullptr, "127.0.0.2");
  TinyServer outside(
      TinyServer::Mode::kHttp,
      [](const std::string&) { return TinyServer::Redirect("http://internal.hostile.test/admin"); },
      nullptr, "127.0.0.1", inside.port());
  Post("/add-a", {{"host", "internal.hostile.test."}, {"addresses", {"127.0.0.2"}}});
  auto c = Config();
  c.http01_port = outside.port();
  c.allowed_networks = Nets({"127.0.0.1/32"});
  Expect(Validate(c, Request("redirect.hostile.test", "tokInto")), ProblemType::kConnection,
         "internal.hostile.test resolves to 127.0.0.2");
  EXPECT_EQ(outside.requests(), 1);
  EXPECT_EQ(inside.requests(), 0);
  // Listed, the same redirect is followed: the refusal above was the allow-list's doing.
  c.allowed_networks = Nets({"127.0.0.1/32", "127.0.0.2/32"});
  Expect(Validate(c, Request("redirect.hostile.test", "tokInto")), ProblemType::kIncorrectResponse,
         "is not a key authorization");
  EXPECT_EQ(inside.requests(), 1);
}

TEST_F(HostileResponderTest, LocationCannotInjectIntoTheRequest) {
  std::vector<std::string> seen;
  // Raw responses: the Location values carry bare LF, tabs, spaces, NUL and non-ASCII.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"tokLf", "/a HTTP/1.1\nX-Injected: 1\n\nGET /second"},
      {"tokCrLfEsc", "/a%0d%0aX-Injected:%201"},  // escaped: sent as it is, harmless
      {"tokSpace", "/a b"},
      {"tokTab", "/a\tb"},
      {"tokNul", std::string("/a\0b", 4)},
      {"tokUtf8", "/caf\xc3\xa9"},
      {"tokBackslash", "/a\\..\\b"},
      {"tokLong", "/" + std::string(3000, 'a')},
  };
  TinyServer http(TinyServer::Mode::kHttp, [&](const std::string& path) {
    seen.push_back(path);
    for (const auto& [token, location] : cases) {
      if (path.ends_with("/" + token)) {
        return "HTTP/1.1 302 Found\r\nLocation: " + location +
               "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      }
    }
    return TinyServer::Response(404, "");
  });
  auto c = Config();
  c.http01_port = http.port();
  for (const auto& [token, location] : cases) {
    Outcome out = Validate(c, Request("inject.hostile.test", token));
    ASSERT_EQ(out.kind, OutcomeKind::kInvalid) << token;
    if (token == "tokCrLfEsc") {
      EXPECT_EQ(out.problem, ProblemType::kUnauthorized) << out.detail;  // followed, then 404
      continue;
    }
    EXPECT_EQ(out.problem, ProblemType::kConnection) << token << ": " << out.detail;
    EXPECT_NE(out.detail.find("refused"), std::string::npos) << token << ": " << out.detail;
  }
  // Only the challenge requests and the one harmless escaped redirect reached the server.
  ASSERT_EQ(seen.size(), cases.size() + 1);
  EXPECT_NE(std::find(seen.begin(), seen.end(), "/a%0d%0aX-Injected:%201"), seen.end());
  for (const auto& path : seen) EXPECT_EQ(path.find_first_of(" \t\n\r"), std::string::npos);
}

TEST_F(HostileResponderTest, LocationMustBeAnHttpUrlWithADnsNameOnAnAllowedPort) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"tokFtp", "ftp://files.hostile.test/x"},
      {"tokScheme", "gopher:x"},
      {"tokIp4", "http://127.0.0.1/x"},
      {"tokIp6", "http://[::1]/x"},
      {"tokHex", "http://0x7f.1/x"},
      {"tokDecimal", "http://2130706433/x"},
      {"tokShortIp", "http://127.1/x"},
      {"tokUser", "http://admin@internal.hostile.test/x"},
      {"tokPort", "http://internal.hostile.test:22/x"},
      {"tokHttpsPort", "https://internal.hostile.test:8443/x"},
      {"tokBadName", "http://under_score..test/x"},
  };
  TinyServer http(TinyServer::Mode::kHttp, [&](const std::string& path) {
    for (const auto& [token, location] : cases) {
      if (path.ends_with("/" + token)) return TinyServer::Redirect(location);
    }
    return TinyServer::Response(404, "");
  });
  auto c = Config();
  c.http01_port = http.port();
  for (const auto& [token, location] : cases) {
    Outcome out = Validate(c, Request("location.hostile.test", token));
    ASSERT_EQ(out.kind, OutcomeKind::kInvalid) << token;
    EXPECT_EQ(out.problem, ProblemType::kConnection) << token << ": " << out.detail;
    EXPECT_NE(out.detail.find("refused: "), std::string::npos) << token << ": " << out.detail;
  }
  EXPECT_EQ(http.requests(), static_cast<int>(cases.size()));  // no redirect was followed
}

TEST_F(HostileResponderTest, FetchedBytesAreNeverEchoed) {
  TinyServer http(TinyServer::Mode::kHttp, [](const std::string& path) -> std::string {
    if (path.ends_with("tokBody")) return TinyServer::Response(200, "SECRET-db-password=hunter2");
    if (path.ends_with("tokBanner")) return "SSH-2.0-OpenSSH_9.2p1 SECRET-banner\r\n\r\n";
    return TinyServer::Response(200, "tokOther." + std::string(kThumbprint));
  });
  auto c = Config();
  c.http01_port = http.port();
  Outcome body = Validate(c, Request("body.hostile.test", "tokBody"));
  Expect(body, ProblemType::kIncorrectResponse, "(26 bytes after trimming) is not a key");
  EXPECT_EQ(body.detail.find("SECRET"), std::string::npos) << body.detail;
  Outcome banner = Validate(c, Request("banner.hostile.test", "tokBanner"));
  Expect(banner, ProblemType::kUnauthorized, "malformed HTTP status line");
  EXPECT_EQ(banner.detail.find("SECRET"), std::string::npos) << banner.detail;
  EXPECT_EQ(banner.detail.find("OpenSSH"), std::string::npos) << banner.detail;
  Outcome other = Validate(c, Request("other.hostile.test", "tokMine"));
  Expect(other, ProblemType::kIncorrectResponse, "key authorization is for another token");
  EXPECT_EQ(other.detail.find("tokOther"), std::string::npos) << other.detail;
}

}  // namespace
}  // namespace ca::gateway::validation
