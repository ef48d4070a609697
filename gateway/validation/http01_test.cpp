#include <gtest/gtest.h>

#include <thread>

#include "gateway/validation/testing/fixture.h"
#include "gateway/validation/testing/test_servers.h"

namespace ca::gateway::validation {
namespace {

using testing::ChallTestSrvSuite;
using testing::TinyServer;

constexpr char kThumbprint[] = "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

class Http01Test : public ChallTestSrvSuite {
 protected:
  static ChallengeRequest Request(const std::string& name, const std::string& token) {
    return {ChallengeType::kHttp01, name, token, KeyAuthorization(token, kThumbprint),
            testing::kAccountUri,   false};
  }
};

TEST_F(Http01Test, ValidAgainstChalltestsrv) {
  Post("/add-http01",
       {{"token", "tokValid1"}, {"content", KeyAuthorization("tokValid1", kThumbprint)}});
  Outcome out = Validate(Config(), Request("ok.http.test", "tokValid1"));
  EXPECT_EQ(out.kind, OutcomeKind::kValid) << OutcomeToString(out);
  EXPECT_NE(out.detail.find("/.well-known/acme-challenge/tokValid1"), std::string::npos)
      << out.detail;
}

TEST_F(Http01Test, WrongBodyIsIncorrectResponse) {
  Post("/add-http01", {{"token", "tokWrong"}, {"content", "tokWrong.not-the-thumbprint"}});
  Outcome out = Validate(Config(), Request("wrong.http.test", "tokWrong"));
  ASSERT_EQ(out.kind, OutcomeKind::kInvalid) << OutcomeToString(out);
  EXPECT_EQ(out.problem, ProblemType::kIncorrectResponse);
  EXPECT_NE(out.detail.find("this token but another account key"), std::string::npos) << out.detail;
  EXPECT_EQ(out.detail.find("not-the-thumbprint"), std::string::npos) << out.detail;
}

TEST_F(Http01Test, MissingFileIsUnauthorized) {
  TinyServer http(TinyServer::Mode::kHttp,
                  [](const std::string&) { return TinyServer::Response(404, "not found"); });
  auto c = Config();
  c.http01_port = http.port();
  Outcome out = Validate(c, Request("missing.http.test", "tokNeverAdded"));
  ASSERT_EQ(out.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(out.problem, ProblemType::kUnauthorized);
  EXPECT_NE(out.detail.find("HTTP 404"), std::string::npos) << out.detail;
}

TEST_F(Http01Test, ConnectionRefusedIsConnectionProblem) {
  auto c = Config();
  c.http01_port = testing::FreePort().value();
  Outcome out = Validate(c, Request("refused.http.test", "tokRefused"));
  ASSERT_EQ(out.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(out.problem, ProblemType::kConnection);
  EXPECT_NE(out.detail.find("Connection refused"), std::string::npos) << out.detail;
}

TEST_F(Http01Test, NoAddressIsDnsProblem) {
  Post("/set-servfail", {{"host", "servfail.http.test."}});
  Outcome out = Validate(Config(), Request("servfail.http.test", "tokDns"));
  ASSERT_EQ(out.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(out.problem, ProblemType::kDns);
  EXPECT_NE(out.detail.find("SERVFAIL looking up A for servfail.http.test"), std::string::npos)
      << out.detail;
}

TEST_F(Http01Test, FollowsRedirectChainIncludingHttpsWithUncheckedCertificate) {
  const std::string key_auth = KeyAuthorization("tokRedir", kThumbprint);
  auto cert =
      testing::MakeCert({"some-other-name.example"});  // self-signed, wrong name: not checked
  TinyServer https(
      TinyServer::Mode::kHttps,
      [&](const std::string& path) {
        return path == "/final" ? TinyServer::Response(200, key_auth + "\r\n")
                                : TinyServer::Response(404, "");
      },
      &cert);
  std::string seen;
  std::uint16_t http_port = 0;
  TinyServer http(TinyServer::Mode::kHttp, [&](const std::string& path) {
    seen += path + " ";
    if (path == "/.well-known/acme-challenge/tokRedir") return TinyServer::Redirect("/step2", 302);
    if (path == "/step2")
      return TinyServer::Redirect("http://second.http.test:" + std::to_string(http_port) + "/step3",
                                  301);
    if (path == "/step3") return TinyServer::Redirect("https://third.http.test/final", 307);
    return TinyServer::Response(404, "");
  });
  http_port = http.port();
  auto c = Config();
  c.http01_port = http.port();
  c.https_port = https.port();
  Outcome out = Validate(c, Request("redirect.http.test", "tokRedir"));
  EXPECT_EQ(out.kind, OutcomeKind::kValid) << OutcomeToString(out);
  EXPECT_EQ(seen, "/.well-known/acme-challenge/tokRedir /step2 /step3 ");
  EXPECT_EQ(https.requests(), 1);
  EXPECT_NE(out.detail.find("https://third.http.test:" + std::to_string(https.port()) + "/final"),
            std::string::npos)
      << out.detail;
}

TEST_F(Http01Test, MoreThanTenRedirectsAreRefused) {
  TinyServer http(TinyServer::Mode::kHttp, [&](const std::string& path) {
    return TinyServer::Redirect(path + "x");  // endless
  });
  auto c = Config();
  c.http01_port = http.port();
  Outcome out = Validate(c, Request("loop.http.test", "tokLoop"));
  ASSERT_EQ(out.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(out.problem, ProblemType::kConnection);
  EXPECT_NE(out.detail.find("too many redirects (more than 10)"), std::string::npos) << out.detail;
  EXPECT_EQ(http.requests(), 11);  // the original request and 10 redirects followed
}

TEST_F(Http01Test, RedirectToAnotherPortOrAnIpIsRefused) {
  TinyServer http(TinyServer::Mode::kHttp, [&](const std::string& path) {
    if (path.ends_with("tokPort")) return TinyServer::Redirect("http://elsewhere.http.test:8080/x");
    return TinyServer::Redirect("http://127.0.0.1/x");
  });
  auto c = Config();
  c.http01_port = http.port();
  Outcome port = Validate(c, Request("port.http.test", "tokPort"));
  ASSERT_EQ(port.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(port.problem, ProblemType::kConnection);
  EXPECT_NE(
      port.detail.find("port 8080 is not the http port (" + std::to_string(http.port()) + ")"),
      std::string::npos)
      << port.detail;
  Outcome ip = Validate(c, Request("ip.http.test", "tokIp"));
  ASSERT_EQ(ip.kind, OutcomeKind::kInvalid);
  EXPECT_NE(ip.detail.find("redirects to IP addresses are not followed"), std::string::npos)
      << ip.detail;
  EXPECT_EQ(http.requests(), 2);
}

TEST_F(Http01Test, OversizedBodyAndChunkedBody) {
  const std::string key_auth = KeyAuthorization("tokChunk", kThumbprint);
  TinyServer http(TinyServer::Mode::kHttp, [&](const std::string& path) -> std::string {
    if (path.ends_with("tokBig")) return TinyServer::Response(200, std::string(20000, 'a'));
    // chunked, split in two chunks
    std::string a = key_auth.substr(0, 10), b = key_auth.substr(10);
    char sa[8], sb[8];
    std::snprintf(sa, sizeof sa, "%zx", a.size());
    std::snprintf(sb, sizeof sb, "%zx", b.size());
    return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
           std::string(sa) + "\r\n" + a + "\r\n" + sb + "\r\n" + b + "\r\n0\r\n\r\n";
  });
  auto c = Config();
  c.http01_port = http.port();
  Outcome big = Validate(c, Request("big.http.test", "tokBig"));
  ASSERT_EQ(big.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(big.problem, ProblemType::kUnauthorized);
  EXPECT_NE(big.detail.find("larger than 16384 bytes"), std::string::npos) << big.detail;
  Outcome chunked = Validate(c, Request("chunked.http.test", "tokChunk"));
  EXPECT_EQ(chunked.kind, OutcomeKind::kValid) << OutcomeToString(chunked);
}

TEST_F(Http01Test, SlowResponderIsCutOffByTheTimeout) {
  TinyServer http(TinyServer::Mode::kHttp, [](const std::string&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    return TinyServer::Response(200, "late");
  });
  auto c = Config();
  c.http01_port = http.port();
  c.io_timeout = std::chrono::milliseconds(800);
  auto start = Clock::now();
  Outcome out = Validate(c, Request("slow.http.test", "tokSlow"));
  auto took = Clock::now() - start;
  ASSERT_EQ(out.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(out.problem, ProblemType::kConnection);
  EXPECT_NE(out.detail.find("timeout (read) talking to 127.0.0.1:" + std::to_string(http.port())),
            std::string::npos)
      << out.detail;
  EXPECT_LT(took, std::chrono::milliseconds(2000));
}

TEST_F(Http01Test, BadRequestsAreRefusedBeforeAnyNetworkUse) {
  auto v = MakeValidator(Config());
  ASSERT_TRUE(v);
  auto deadline = Clock::now() + std::chrono::seconds(5);
  auto bad_token = v->ValidateChallenge(Request("a.http.test", "../../etc"), deadline);
  ASSERT_FALSE(bad_token);
  EXPECT_EQ(bad_token.error().message, "challenge token is not base64url");
  auto wildcard = v->ValidateChallenge(Request("*.http.test", "tok"), deadline);
  ASSERT_FALSE(wildcard);
  EXPECT_NE(wildcard.error().message.find("can only be validated with dns-01"), std::string::npos);
  auto req = Request("a.http.test", "tok");
  req.key_authorization = "other.thumb";
  EXPECT_FALSE(v->ValidateChallenge(req, deadline));
}

}  // namespace
}  // namespace ca::gateway::validation
