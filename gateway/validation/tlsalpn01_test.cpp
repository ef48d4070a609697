#include <gtest/gtest.h>

#include "gateway/validation/testing/fixture.h"
#include "gateway/validation/testing/test_servers.h"

namespace ca::gateway::validation {
namespace {

using testing::ChallTestSrvSuite;
using testing::TinyServer;

constexpr char kThumbprint[] = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

class TlsAlpn01Test : public ChallTestSrvSuite {
 protected:
  static ChallengeRequest Request(const std::string& name, const std::string& token) {
    return {ChallengeType::kTlsAlpn01, name, token, KeyAuthorization(token, kThumbprint),
            testing::kAccountUri,      false};
  }
  static Outcome AgainstOwnServer(testing::TestCert& cert, const std::string& name,
                                  const std::string& token) {
    TinyServer server(
        TinyServer::Mode::kTlsAlpn, [](const std::string&) { return std::string(); }, &cert);
    auto c = Config();
    c.tlsalpn01_port = server.port();
    return Validate(c, Request(name, token));
  }
};

TEST_F(TlsAlpn01Test, ValidAgainstChalltestsrv) {
  Post("/add-tlsalpn01",
       {{"host", "ok.alpn.test"}, {"content", KeyAuthorization("tokAlpn", kThumbprint)}});
  Outcome out = Validate(Config(), Request("ok.alpn.test", "tokAlpn"));
  EXPECT_EQ(out.kind, OutcomeKind::kValid) << OutcomeToString(out);
}

TEST_F(TlsAlpn01Test, WrongKeyAuthorizationIsIncorrectResponse) {
  Post("/add-tlsalpn01", {{"host", "wrong.alpn.test"}, {"content", "something.else"}});
  Outcome out = Validate(Config(), Request("wrong.alpn.test", "tokAlpnWrong"));
  ASSERT_EQ(out.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(out.problem, ProblemType::kIncorrectResponse);
  EXPECT_NE(out.detail.find("does not match the key authorization"), std::string::npos)
      << out.detail;
}

TEST_F(TlsAlpn01Test, OwnServerWithCorrectCertificateIsValid) {
  std::string key_auth = KeyAuthorization("tokOwn", kThumbprint);
  auto cert = testing::MakeCert({"own.alpn.test"}, &key_auth, true);
  Outcome out = AgainstOwnServer(cert, "own.alpn.test", "tokOwn");
  EXPECT_EQ(out.kind, OutcomeKind::kValid) << OutcomeToString(out);
}

TEST_F(TlsAlpn01Test, CertificateWithoutExtensionIsRefused) {
  auto cert = testing::MakeCert({"noext.alpn.test"});
  Outcome out = AgainstOwnServer(cert, "noext.alpn.test", "tokNoExt");
  ASSERT_EQ(out.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(out.problem, ProblemType::kUnauthorized);
  EXPECT_NE(out.detail.find("lacks the acmeIdentifier extension"), std::string::npos) << out.detail;
}

TEST_F(TlsAlpn01Test, NonCriticalExtensionOrExtraSanIsRefused) {
  std::string key_auth = KeyAuthorization("tokBad", kThumbprint);
  auto noncritical = testing::MakeCert({"bad.alpn.test"}, &key_auth, false);
  Outcome a = AgainstOwnServer(noncritical, "bad.alpn.test", "tokBad");
  ASSERT_EQ(a.kind, OutcomeKind::kInvalid);
  EXPECT_NE(a.detail.find("is not critical"), std::string::npos) << a.detail;
  auto two_sans = testing::MakeCert({"bad.alpn.test", "extra.alpn.test"}, &key_auth, true);
  Outcome b = AgainstOwnServer(two_sans, "bad.alpn.test", "tokBad");
  ASSERT_EQ(b.kind, OutcomeKind::kInvalid);
  EXPECT_NE(b.detail.find("has 2 subjectAltName entries"), std::string::npos) << b.detail;
  auto other_name = testing::MakeCert({"other.alpn.test"}, &key_auth, true);
  Outcome c = AgainstOwnServer(other_name, "bad.alpn.test", "tokBad");
  ASSERT_EQ(c.kind, OutcomeKind::kInvalid);
  EXPECT_NE(c.detail.find("does not match bad.alpn.test"), std::string::npos) << c.detail;
}

TEST_F(TlsAlpn01Test, ServerWithoutAcmeTlsAlpnIsTlsProblem) {
  auto cert = testing::MakeCert({"plain.alpn.test"});
  TinyServer server(
      TinyServer::Mode::kHttps, [](const std::string&) { return TinyServer::Response(200, ""); },
      &cert);
  auto c = Config();
  c.tlsalpn01_port = server.port();
  Outcome out = Validate(c, Request("plain.alpn.test", "tokPlain"));
  ASSERT_EQ(out.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(out.problem, ProblemType::kTls);
  EXPECT_NE(out.detail.find("did not negotiate the acme-tls/1 protocol"), std::string::npos)
      << out.detail;
}

}  // namespace
}  // namespace ca::gateway::validation
