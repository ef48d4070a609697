// Hostile requests (issue 14) in-process, with fake policy, engine and validator: a deactivated
// authorization, the account key in the CSR, the CAA recheck's method, the RA's refusal on every
// kid-signed endpoint, the profile's name limit. The black-box tests against the real gateway are
// in tests/acme_protocol and tests/acme_clients/appliance_cases.py.
#include "gateway/finalize_checks.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/encoding.h"
#include "gateway/acme_server.h"
#include "gateway/testing/fakes.h"
#include "profiles/issuance/testing/test_pki.h"

namespace ca::gateway {
namespace {

using testing::Client;
using testing::Reply;

constexpr char kBase[] = "https://127.0.0.1:14000";
constexpr char kKid[] = "6136f1b5-39c8-4417-b8a7-c4114b092be6";
const std::string kUrn = "urn:ietf:params:acme:error:";

// Records the method the CAA checks were asked for.
class RecordingValidator final : public ValidatorPort {
 public:
  std::vector<std::string> caa_methods;
  std::mutex mu;
  ValidationResult ValidateChallenge(const std::string&, const std::string&, const std::string&,
                                     const std::string&) override {
    return {ValidationResult::Status::kValid, ProblemKind::kConnection, ""};
  }
  ValidationResult CheckCaa(const std::string&, bool, const std::string&,
                            const std::string& method) override {
    std::lock_guard lock(mu);
    caa_methods.push_back(method);
    return {ValidationResult::Status::kValid, ProblemKind::kConnection, ""};
  }
};

class FinalizeChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("gw-hostile-" + RandomUuidV4());
    store_.emplace(std::move(*AcmeStore::Open(dir_.string())));
    mac_ = RandomBytes(32);
    policy_.accounts[kKid] = {{kKid, "", {"SSL"}, {"dns-01"}, 10, 100}, mac_};
    policy_.allowed_names = {"a.example.com", "b.example.com", "c.example.com"};
    GatewayOptions o;
    o.base_url = kBase;
    o.caa_identities = {"ca.example"};
    o.validation_workers = 1;
    o.caa_recheck_seconds = -1;  // every finalize rechecks CAA
    for (auto id : profiles::policy::kAllProfiles)
      o.certificate_profiles.emplace(id, profiles::issuance::testing::RepoProfile(id));
    o.certificate_profiles.at(profiles::policy::ProfileId::kSsl).max_names = 2;
    issuer_.mac_keys_of = &policy_;
    server_.emplace(o, *store_, policy_, issuer_, validator_, [this] { return now_; });
  }
  void TearDown() override {
    server_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string U(const std::string& p) { return std::string(kBase) + p; }
  Reply NewOrder(Client& c, std::vector<std::string> names) {
    nlohmann::json ids = nlohmann::json::array();
    for (auto& n : names) ids.push_back({{"type", "dns"}, {"value", n}});
    return c.Post(U("/acme/new-order"), nlohmann::json{{"identifiers", ids}});
  }
  Reply ReadyOrder(Client& c, std::vector<std::string> names) {
    Reply o = NewOrder(c, names);
    EXPECT_EQ(o.status, 201) << o.raw;
    for (const auto& az : o.body["authorizations"]) {
      Reply a = c.Post(az, std::nullopt);
      EXPECT_EQ(c.Post(a.body["challenges"][0]["url"], nlohmann::json::object()).status, 200);
    }
    server_->WaitForValidationsIdle();
    EXPECT_EQ(c.Post(o.headers["Location"], std::nullopt).body["status"], "ready");
    return o;
  }
  Reply Finalize(Client& c, const Reply& order, EVP_PKEY* key, std::vector<std::string> names) {
    auto csr = testing::MakeCsr(key, names);
    return c.Post(order.body["finalize"], nlohmann::json{{"csr", Base64UrlEncode(*csr)}});
  }

  int64_t now_ = 1'700'000'000;
  std::filesystem::path dir_;
  std::optional<AcmeStore> store_;
  testing::FakePolicy policy_;
  testing::FakeIssuer issuer_;
  RecordingValidator validator_;
  std::optional<AcmeServer> server_;
  Bytes mac_;
};

TEST_F(FinalizeChecksTest, DeactivatedAuthorizationOfAReadyOrderGivesNoCertificate) {
  Client c(*server_, kBase);
  ASSERT_EQ(c.Register(kKid, mac_).status, 201);
  Reply o = ReadyOrder(c, {"a.example.com"});
  Reply d = c.Post(o.body["authorizations"][0], nlohmann::json{{"status", "deactivated"}});
  EXPECT_EQ(d.body["status"], "deactivated");
  auto key = testing::GenerateKey("RSA3072");
  Reply f = Finalize(c, o, key->get(), {"a.example.com"});
  EXPECT_EQ(f.type(), kUrn + "orderNotReady") << f.raw;
  EXPECT_TRUE(f.detail().starts_with("ACME_DEACTIVATED: order is invalid")) << f.detail();
  Reply after = c.Post(o.headers["Location"], std::nullopt);
  EXPECT_EQ(after.body["status"], "invalid");
  EXPECT_EQ(after.body["error"]["type"], kUrn + "unauthorized");
  EXPECT_EQ(after.body["error"]["detail"],
            "ACME_DEACTIVATED: authorization for a.example.com was deactivated by the client");
  EXPECT_EQ(issuer_.issue_calls.load(), 0);
}

// CTD result codes (ACME-8) of the order's life: each problem's type and the code its detail
// starts with.
TEST_F(FinalizeChecksTest, ResultCodesOfOrdersNotReadyAndDeactivatedAuthorizations) {
  Client c(*server_, kBase);
  ASSERT_EQ(c.Register(kKid, mac_).status, 201);
  auto key = testing::GenerateKey("RSA3072");
  Reply pending = NewOrder(c, {"a.example.com"});
  Reply f = Finalize(c, pending, key->get(), {"a.example.com"});
  EXPECT_EQ(f.type(), kUrn + "orderNotReady") << f.raw;
  EXPECT_EQ(f.status, 403);
  EXPECT_EQ(f.detail(), "ACME_ORDER_NOT_READ: order is pending, not ready");

  std::string authz = pending.body["authorizations"][0];
  std::string chall = c.Post(authz, std::nullopt).body["challenges"][0]["url"];
  ASSERT_EQ(c.Post(authz, nlohmann::json{{"status", "deactivated"}}).body["status"], "deactivated");
  Reply answer = c.Post(chall, nlohmann::json::object());
  EXPECT_EQ(answer.type(), kUrn + "malformed") << answer.raw;
  EXPECT_EQ(answer.detail(), "ACME_DEACTIVATED: the client deactivated this authorization");
  EXPECT_EQ(issuer_.issue_calls.load(), 0);
}

TEST_F(FinalizeChecksTest, EngineAnswerThatIsNoCertificateIsAFinalizeError) {
  Client c(*server_, kBase);
  ASSERT_EQ(c.Register(kKid, mac_).status, 201);
  Reply o = ReadyOrder(c, {"a.example.com"});
  issuer_.answer_issue_with_wrong_type = true;
  auto key = testing::GenerateKey("RSA3072");
  Reply f = Finalize(c, o, key->get(), {"a.example.com"});
  EXPECT_EQ(f.type(), kUrn + "serverInternal") << f.raw;
  EXPECT_EQ(f.status, 503);
  EXPECT_FALSE(f.headers["Retry-After"].empty());
  EXPECT_TRUE(f.detail().starts_with("ACME_ORDER_FINALIZE_ERROR: ")) << f.detail();
  // Nothing was issued: the order is ready again and a retried finalize gets the certificate.
  EXPECT_EQ(c.Post(o.headers["Location"], std::nullopt).body["status"], "ready");
  issuer_.answer_issue_with_wrong_type = false;
  EXPECT_EQ(Finalize(c, o, key->get(), {"a.example.com"}).status, 200);
}

TEST_F(FinalizeChecksTest, RevokingACertificateThisServerNeverIssuedIsRequestNotFound) {
  Client c(*server_, kBase);
  ASSERT_EQ(c.Register(kKid, mac_).status, 201);
  Reply o = ReadyOrder(c, {"a.example.com"});
  auto key = testing::GenerateKey("RSA3072");
  Reply f = Finalize(c, o, key->get(), {"a.example.com"});
  ASSERT_EQ(f.status, 200) << f.raw;
  auto chain = *ossl::CertsFromPem(c.Post(f.body["certificate"], std::nullopt).raw);
  // The same certificate under a serial this server never issued, signed again (by any key: the
  // signature makes OpenSSL encode the changed TBS).
  X509* cert = chain.front().get();
  ossl::Bn other(BN_new());
  ASSERT_TRUE(BN_rand(other.get(), 120, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY));
  ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(other.get(), nullptr);
  ASSERT_TRUE(serial != nullptr && X509_set_serialNumber(cert, serial) == 1);
  ASN1_INTEGER_free(serial);
  ASSERT_GT(X509_sign(cert, key->get(), EVP_sha256()), 0);
  nlohmann::json p = {{"certificate", Base64UrlEncode(*ossl::CertToDer(cert))}, {"reason", 4}};
  Reply r = c.Post(U("/acme/revoke-cert"), p);
  EXPECT_EQ(r.type(), kUrn + "malformed") << r.raw;
  EXPECT_EQ(r.detail(), "ACME_REQUEST_NOT_FOUND: this certificate was not issued by this server");
  EXPECT_TRUE(issuer_.revocations.empty());
}

TEST_F(FinalizeChecksTest, AccountKeyInTheCsrIsBadCsr) {
  Client c(*server_, kBase, "RS256");
  c.key = std::move(*testing::GenerateKey("RSA3072"));
  ASSERT_EQ(c.Register(kKid, mac_).status, 201);
  Reply o = ReadyOrder(c, {"a.example.com"});
  Reply f = Finalize(c, o, c.key.get(), {"a.example.com"});
  EXPECT_EQ(f.type(), kUrn + "badCSR") << f.raw;
  EXPECT_NE(f.detail().find("account's key"), std::string::npos) << f.detail();
  EXPECT_EQ(c.Post(o.headers["Location"], std::nullopt).body["status"], "ready");
  EXPECT_EQ(issuer_.issue_calls.load(), 0);
}

TEST_F(FinalizeChecksTest, CaaRecheckGetsTheValidatingMethod) {
  Client c(*server_, kBase);
  ASSERT_EQ(c.Register(kKid, mac_).status, 201);
  Reply o = ReadyOrder(c, {"a.example.com"});
  validator_.caa_methods.clear();
  auto key = testing::GenerateKey("RSA3072");
  ASSERT_EQ(Finalize(c, o, key->get(), {"a.example.com"}).status, 200);
  EXPECT_EQ(validator_.caa_methods, std::vector<std::string>{"dns-01"});
}

TEST_F(FinalizeChecksTest, RaRefusalOnEveryKidSignedEndpoint) {
  Client c(*server_, kBase);
  ASSERT_EQ(c.Register(kKid, mac_).status, 201);
  Reply o = NewOrder(c, {"a.example.com"});
  std::string authz = o.body["authorizations"][0];
  std::string chall = c.Post(authz, std::nullopt).body["challenges"][0]["url"];
  policy_.account_refusal = "SUSPENDED_ACCOUNT";
  for (const auto& [url, payload] :
       std::vector<std::pair<std::string, std::optional<nlohmann::json>>>{
           {chall, nlohmann::json::object()},
           {authz, nlohmann::json{{"status", "deactivated"}}},
           {o.headers["Location"], std::nullopt},
           {c.account_url, std::nullopt},
           {U("/acme/cert/0a0a0a0a0a0a0a0a"), std::nullopt}}) {
    Reply r = c.Post(url, payload);
    EXPECT_EQ(r.type(), kUrn + "unauthorized") << url;
    EXPECT_TRUE(r.detail().starts_with("SUSPENDED_ACCOUNT")) << url << ": " << r.detail();
  }
  policy_.account_refusal.clear();
  EXPECT_EQ(c.Post(authz, std::nullopt).body["status"], "pending");
  EXPECT_EQ(validator_.caa_methods.size(), 0u);
}

TEST_F(FinalizeChecksTest, ProfileMaxNames) {
  Client c(*server_, kBase);
  ASSERT_EQ(c.Register(kKid, mac_).status, 201);
  Reply r = NewOrder(c, {"a.example.com", "b.example.com", "c.example.com"});
  EXPECT_EQ(r.type(), kUrn + "rejectedIdentifier");
  EXPECT_NE(r.detail().find("at most 2 names"), std::string::npos) << r.detail();
  EXPECT_EQ(NewOrder(c, {"a.example.com", "b.example.com"}).status, 201);
}

}  // namespace
}  // namespace ca::gateway
