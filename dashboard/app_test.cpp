#include "dashboard/app.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "dashboard/testing/policy_fixture.h"

namespace ca::dashboard {
namespace {

using nlohmann::json;

std::string HeaderOf(const HttpResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

class AppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reports::AuditSources sources;
    sources.ra = f_.EmptyAuditFile();  // an empty trail
    auto ledger = reports::Ledger::Open(sources);
    ASSERT_TRUE(ledger) << ledger.error().ToString();
    app_.emplace(f_.store(), std::move(*ledger), 3600);
    app_->RefreshOnce();
  }
  HttpRequest Get(const std::string& path, const std::string& session = "") {
    HttpRequest r;
    r.method = "GET";
    r.path = path;
    r.peer = "127.0.0.1";
    if (!session.empty()) r.headers["cookie"] = "other=1; " + std::string(kSessionCookie) + "=" + session;
    return r;
  }
  HttpResponse Login(const std::string& credential, const std::string& peer = "127.0.0.1") {
    HttpRequest r;
    r.method = "POST";
    r.path = "/login";
    r.peer = peer;
    std::string encoded;
    for (char c : credential) encoded += c == ':' ? std::string("%3A") : std::string(1, c);
    r.body = "credential=" + encoded;
    return app_->Handle(r);
  }
  std::string SessionOf(const HttpResponse& login) {
    std::string cookie = HeaderOf(login, "Set-Cookie");
    return CookieValue(cookie, kSessionCookie);
  }

  testing::PolicyFixture f_;
  std::optional<Dashboard> app_;
};

TEST_F(AppTest, LoginSetsAHardenedSessionCookie) {
  auto r = Login(f_.credential_a);
  EXPECT_EQ(r.status, 303u);
  EXPECT_EQ(HeaderOf(r, "Location"), "/");
  std::string cookie = HeaderOf(r, "Set-Cookie");
  for (const char* attr : {"HttpOnly", "Secure", "SameSite=Strict", "Path=/"}) {
    EXPECT_NE(cookie.find(attr), std::string::npos) << cookie;
  }
  EXPECT_EQ(cookie.find(f_.credential_a.substr(f_.credential_a.rfind('.') + 1)), std::string::npos);
  std::string session = SessionOf(r);
  auto s = app_->Handle(Get("/api/session", session));
  ASSERT_EQ(s.status, 200u);
  json j = json::parse(s.body);
  EXPECT_EQ(j["operator"], false);
  ASSERT_EQ(j["accounts"].size(), 1u);
  EXPECT_EQ(j["accounts"][0]["kid"], f_.kid_a);
  EXPECT_EQ(j["accounts"][0]["organization"], "Org A");
}

TEST_F(AppTest, ALoginPostedFromAnotherSiteIsRefused) {
  HttpRequest r;
  r.method = "POST";
  r.path = "/login";
  r.peer = "127.0.0.1";
  r.headers["host"] = "ca.corp.example:8443";
  r.body = "credential=" + f_.credential_a;
  r.headers["origin"] = "https://evil.example";
  auto refused = app_->Handle(r);
  EXPECT_EQ(refused.status, 403u);
  EXPECT_EQ(HeaderOf(refused, "Set-Cookie"), "");
  r.headers["origin"] = "null";  // a sandboxed frame or a no-referrer page elsewhere
  EXPECT_EQ(app_->Handle(r).status, 403u);
  r.headers["origin"] = "https://ca.corp.example:8443";
  auto same = app_->Handle(r);
  EXPECT_EQ(same.status, 303u);
  EXPECT_NE(SessionOf(same), "");
}

TEST_F(AppTest, WrongCredentialIsRefusedAndThrottled) {
  std::string wrong = f_.kid_a + f_.credential_b.substr(f_.credential_b.rfind('.'));
  auto r = Login(wrong, "10.1.1.1");
  EXPECT_EQ(HeaderOf(r, "Location"), "/?login=failed");
  EXPECT_EQ(HeaderOf(r, "Set-Cookie"), "");
  for (int i = 0; i < 4; ++i) Login(wrong, "10.1.1.1");
  // Even the right credential is not checked from that address until the window ends.
  EXPECT_EQ(HeaderOf(Login(f_.credential_a, "10.1.1.1"), "Location"), "/?login=limited");
  EXPECT_EQ(HeaderOf(Login(f_.credential_a, "10.1.1.2"), "Location"), "/");
}

TEST_F(AppTest, AnAccountReadsItsOwnDataOnly) {
  std::string session = SessionOf(Login(f_.credential_a));
  auto own = app_->Handle(Get("/api/accounts/" + f_.kid_a, session));
  ASSERT_EQ(own.status, 200u);
  json j = json::parse(own.body);
  EXPECT_EQ(j["kid"], f_.kid_a);
  EXPECT_EQ(j["domains"][0]["fqdn"], "a.demo.test");
  EXPECT_EQ(j["domains"][0]["status"], "pending");
  EXPECT_EQ(app_->Handle(Get("/api/accounts/" + f_.kid_a + "/chart.svg", session)).status, 200u);
  // Another account, existing or not, and its chart: the same 403.
  for (std::string other : {f_.kid_b, std::string("no-such-kid"), f_.kid_b + "/chart.svg"}) {
    auto r = app_->Handle(Get("/api/accounts/" + other, session));
    EXPECT_EQ(r.status, 403u) << other;
    EXPECT_EQ(r.body, "{\"error\":\"forbidden\"}\n");
  }
}

TEST_F(AppTest, AnOperatorReadsEveryAccount) {
  std::string session = SessionOf(Login(f_.credential_op));
  json j = json::parse(app_->Handle(Get("/api/session", session)).body);
  EXPECT_EQ(j["operator"], true);
  EXPECT_EQ(j["accounts"].size(), 2u);
  EXPECT_EQ(app_->Handle(Get("/api/accounts/" + f_.kid_b, session)).status, 200u);
  EXPECT_EQ(app_->Handle(Get("/api/accounts/no-such-kid", session)).status, 404u);
}

TEST_F(AppTest, WithoutASessionTheApiAnswers401AndThePageIsTheLoginForm) {
  EXPECT_EQ(app_->Handle(Get("/api/accounts/" + f_.kid_a)).status, 401u);
  EXPECT_EQ(app_->Handle(Get("/api/version", "forged")).status, 401u);
  auto page = app_->Handle(Get("/"));
  EXPECT_EQ(page.status, 200u);
  EXPECT_NE(page.body.find("action=\"/login\""), std::string::npos);
  EXPECT_EQ(page.body.find("{{NOTE}}"), std::string::npos);
}

TEST_F(AppTest, VersionPollAnswers304WhileNothingChanged) {
  std::string session = SessionOf(Login(f_.credential_a));
  auto v = app_->Handle(Get("/api/version", session));
  ASSERT_EQ(v.status, 200u);
  std::string etag = HeaderOf(v, "ETag");
  ASSERT_FALSE(etag.empty());
  auto again = Get("/api/version", session);
  again.headers["if-none-match"] = etag;
  EXPECT_EQ(app_->Handle(again).status, 304u);
  ASSERT_TRUE(profiles::policy::admin::AddDomain(f_.Ctx(), f_.kid_a, "b.demo.test", {}));
  EXPECT_EQ(app_->Handle(again).status, 200u);  // the policy changed
}

TEST_F(AppTest, SecurityHeadersOnEveryResponse) {
  std::string session = SessionOf(Login(f_.credential_a));
  for (const auto& r : {app_->Handle(Get("/")), app_->Handle(Get("/app.js")),
                        app_->Handle(Get("/api/accounts/" + f_.kid_a, session))}) {
    EXPECT_NE(HeaderOf(r, "Content-Security-Policy").find("default-src 'self'"), std::string::npos);
    EXPECT_EQ(HeaderOf(r, "X-Frame-Options"), "DENY");
    EXPECT_NE(HeaderOf(r, "Strict-Transport-Security"), "");
  }
  EXPECT_EQ(HeaderOf(app_->Handle(Get("/api/accounts/" + f_.kid_a, session)), "Cache-Control"),
            "no-store");
  EXPECT_EQ(app_->Handle(Get("/")).body.find("<script>"), std::string::npos);
}

TEST_F(AppTest, LogoutAndReissueEndSessions) {
  std::string s1 = SessionOf(Login(f_.credential_a));
  HttpRequest out = Get("/", s1);
  out.method = "POST";
  out.path = "/logout";
  app_->Handle(out);
  EXPECT_EQ(app_->Handle(Get("/api/session", s1)).status, 401u);
  std::string s2 = SessionOf(Login(f_.credential_a));
  ASSERT_TRUE(profiles::policy::admin::IssueAccountDashboardCredential(f_.Ctx(), f_.kid_a));
  EXPECT_EQ(app_->Handle(Get("/api/session", s2)).status, 401u);
}

TEST(HttpHelpers, FormAndCookieParsing) {
  EXPECT_EQ(FormValue("a=1&credential=kid.x%2By+z", "credential"), "kid.x+y z");
  EXPECT_EQ(FormValue("credential=operator%3Aops.s", "credential"), "operator:ops.s");
  EXPECT_EQ(FormValue("a=1", "credential"), "");
  EXPECT_EQ(FormValue("credential=%", "credential"), "%");
  EXPECT_EQ(CookieValue("a=1; ca_dashboard_session=abc; b=2", "ca_dashboard_session"), "abc");
  EXPECT_EQ(CookieValue("xca_dashboard_session=abc", "ca_dashboard_session"), "");
}

}  // namespace
}  // namespace ca::dashboard
