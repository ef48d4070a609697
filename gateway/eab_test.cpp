// External Account Binding (RFC 8555 §7.3.4): each rejection, through AcmeServer::Handle.
#include <gtest/gtest.h>

#include <filesystem>

#include "gateway/testing/fakes.h"

namespace ca::gateway {
namespace {

using testing::Client;
using testing::FakeIssuer;
using testing::FakePolicy;
using testing::FakeValidator;

constexpr char kBase[] = "https://127.0.0.1:14000";
constexpr char kKid[] = "6136f1b5-39c8-4417-b8a7-c4114b092be6";

class EabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("gw-eab-" + RandomUuidV4());
    store_.emplace(std::move(*AcmeStore::Open(dir_.string())));
    mac_ = RandomBytes(32);
    policy_.accounts[kKid] = {{kKid, "", {"SSL"}, {"http-01", "dns-01"}, 2, 100}, mac_};
    GatewayOptions o;
    o.base_url = kBase;
    o.caa_identities = {"ca.example"};
    issuer_.mac_keys_of = &policy_;
    server_.emplace(o, *store_, policy_, issuer_, validator_, [] { return int64_t{1'700'000'000}; });
  }
  void TearDown() override {
    server_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  testing::Reply NewAccount(Client& c, const nlohmann::json& eab) {
    return c.Post(std::string(kBase) + "/acme/new-account",
                  nlohmann::json{{"termsOfServiceAgreed", true}, {"externalAccountBinding", eab}}, true);
  }
  size_t AccountCount() {
    auto txn = store_->Read();
    return *txn->CountAccountsOfExternal(kKid);
  }

  std::filesystem::path dir_;
  std::optional<AcmeStore> store_;
  FakePolicy policy_;
  FakeIssuer issuer_;
  FakeValidator validator_;
  std::optional<AcmeServer> server_;
  Bytes mac_;
};

TEST_F(EabTest, ValidBindingCreatesAccountWithExternalProfile) {
  Client c(*server_, kBase);
  auto r = c.Register(kKid, mac_);
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["status"], "valid");
  ASSERT_TRUE(c.account_url.starts_with(std::string(kBase) + "/acme/acct/"));
  auto txn = store_->Read();
  auto acct = txn->GetAccount(c.account_url.substr(c.account_url.rfind('/') + 1));
  ASSERT_TRUE(acct.has_value() && acct->has_value());
  EXPECT_EQ((*acct)->external_account_kid, kKid);
  EXPECT_EQ((*acct)->profile, "SSL");
  EXPECT_EQ((*acct)->jwk_thumbprint, *JwkThumbprint(c.Jwk()));
  EXPECT_EQ((*acct)->contact, std::vector<std::string>{"mailto:ops@example.com"});
  // Same key again: 200 with the same Location, no new account.
  Client again(*server_, kBase);
  again.key = std::move(c.key);
  auto r2 = again.Register(kKid, mac_);
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(again.account_url, c.account_url);
  EXPECT_EQ(AccountCount(), 1u);
}

TEST_F(EabTest, MissingBindingIsExternalAccountRequired) {
  Client c(*server_, kBase);
  auto r = c.Post(std::string(kBase) + "/acme/new-account", nlohmann::json{{"termsOfServiceAgreed", true}}, true);
  EXPECT_EQ(r.type(), "urn:ietf:params:acme:error:externalAccountRequired");
}

struct Rejection {
  const char* name;
  std::function<nlohmann::json(Client&, const std::string&, const Bytes&)> eab;
  const char* type;
  const char* detail_part;
};

TEST_F(EabTest, EachRejection) {
  auto other_mac = RandomBytes(32);
  std::vector<Rejection> cases = {
      {"asymmetric alg",
       [](Client& c, const std::string& kid, const Bytes&) {
         nlohmann::json h = {{"alg", "ES256"}, {"kid", kid}, {"url", std::string(kBase) + "/acme/new-account"}};
         return nlohmann::json::parse(*SignJws(h, c.Jwk().dump(), c.key.get(), "ES256"));
       },
       "malformed", "MAC algorithm"},
      {"missing alg",
       [](Client& c, const std::string& kid, const Bytes& mac) {
         return c.Eab(kid, mac, [](nlohmann::json& h) { h.erase("alg"); });
       },
       "badSignatureAlgorithm", "no alg"},
      {"nonce in inner JWS",
       [](Client& c, const std::string& kid, const Bytes& mac) {
         return c.Eab(kid, mac, [](nlohmann::json& h) { h["nonce"] = "abc"; });
       },
       "malformed", "nonce"},
      {"url mismatch",
       [](Client& c, const std::string& kid, const Bytes& mac) {
         return c.Eab(kid, mac, [](nlohmann::json& h) { h["url"] = std::string(kBase) + "/acme/new-order"; });
       },
       "malformed", "url"},
      {"jwk mismatch",
       [](Client& c, const std::string& kid, const Bytes& mac) {
         auto other = testing::GenerateKey("P-256");
         return c.Eab(kid, mac, nullptr, *JwkFromPublicKey(other->get()));
       },
       "malformed", "not the key"},
      {"unknown kid",
       [](Client& c, const std::string&, const Bytes& mac) { return c.Eab("00000000-0000-4000-8000-000000000000", mac); },
       "unauthorized", "BAD_SIGNATURE"},
      {"wrong MAC key",
       [&](Client& c, const std::string& kid, const Bytes&) { return c.Eab(kid, other_mac); },
       "unauthorized", "BAD_SIGNATURE"},
  };
  for (const auto& rc : cases) {
    Client c(*server_, kBase);
    auto r = NewAccount(c, rc.eab(c, kKid, mac_));
    EXPECT_EQ(r.type(), std::string("urn:ietf:params:acme:error:") + rc.type) << rc.name << ": " << r.raw;
    EXPECT_NE(r.detail().find(rc.detail_part), std::string::npos) << rc.name << ": " << r.detail();
  }
  EXPECT_EQ(AccountCount(), 0u);
}

TEST_F(EabTest, InactiveOrExpiredExternalAccount) {
  for (std::string code : {"SUSPENDED_EXTERNAL_ACCOUNT", "EXPIRED_EXTERNAL_ACCOUNT", "PENDING_EXTERNAL_ACCOUNT"}) {
    policy_.accounts[kKid].view.refusal_code = code;
    Client c(*server_, kBase);
    auto r = c.Register(kKid, mac_);
    EXPECT_EQ(r.type(), "urn:ietf:params:acme:error:unauthorized");
    EXPECT_EQ(r.detail(), code + ": " + kKid);
  }
  EXPECT_EQ(AccountCount(), 0u);
}

// Issue 14: an unknown kid and a wrong MAC get the same answer; the external account's state only
// after the MAC verifies.
TEST_F(EabTest, UnknownKidAndWrongMacIndistinguishable) {
  Bytes other_mac(32, 0x42);
  policy_.accounts[kKid].view.refusal_code = "SUSPENDED_EXTERNAL_ACCOUNT";
  Client a(*server_, kBase), b(*server_, kBase);
  auto unknown = a.Register("00000000-0000-4000-8000-000000000000", mac_);
  auto wrong = b.Register(kKid, other_mac);
  EXPECT_EQ(unknown.status, wrong.status);
  EXPECT_EQ(unknown.body, wrong.body);
  EXPECT_EQ(wrong.type(), "urn:ietf:params:acme:error:unauthorized");
  EXPECT_EQ(wrong.detail().find("SUSPENDED"), std::string::npos) << wrong.detail();
  EXPECT_EQ(wrong.detail().find(kKid), std::string::npos) << wrong.detail();
  Client c(*server_, kBase);
  EXPECT_EQ(c.Register(kKid, mac_).detail(), std::string("SUSPENDED_EXTERNAL_ACCOUNT: ") + kKid);
  EXPECT_EQ(AccountCount(), 0u);
}

TEST_F(EabTest, MaxAcmeAccounts) {
  Client a(*server_, kBase), b(*server_, kBase), c(*server_, kBase);
  ASSERT_EQ(a.Register(kKid, mac_).status, 201);
  ASSERT_EQ(b.Register(kKid, mac_).status, 201);
  auto r = c.Register(kKid, mac_);
  EXPECT_EQ(r.type(), "urn:ietf:params:acme:error:unauthorized");
  EXPECT_NE(r.detail().find("already has 2 ACME accounts"), std::string::npos);
  EXPECT_EQ(AccountCount(), 2u);
}

TEST_F(EabTest, OnlyReturnExisting) {
  Client c(*server_, kBase);
  auto r = c.Post(std::string(kBase) + "/acme/new-account", nlohmann::json{{"onlyReturnExisting", true}}, true);
  EXPECT_EQ(r.type(), "urn:ietf:params:acme:error:accountDoesNotExist");
  ASSERT_EQ(c.Register(kKid, mac_).status, 201);
  std::string url = c.account_url;
  auto again = c.Post(std::string(kBase) + "/acme/new-account", nlohmann::json{{"onlyReturnExisting", true}}, true);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.headers["Location"], url);
}

}  // namespace
}  // namespace ca::gateway

namespace ca::gateway {
namespace {

using testing::Client;

class EabEngineTest : public EabTest {};

// R21: the gateway holds no MAC key; the engine gets the binding's signing input and MAC, as
// received, and its verdict decides.
TEST_F(EabEngineTest, TheEngineVerifiesWithTheSigningInputAndMacAsReceived) {
  Client c(*server_, kBase);
  auto eab = c.Eab(kKid, mac_);
  auto r = NewAccount(c, eab);
  ASSERT_EQ(r.status, 201) << r.raw;
  ASSERT_EQ(issuer_.eab_requests.size(), 1u);
  const auto& sent = issuer_.eab_requests[0];
  EXPECT_EQ(sent.kid, kKid);
  EXPECT_EQ(sent.signing_input, eab["protected"].get<std::string>() + "." + eab["payload"].get<std::string>());
  EXPECT_EQ(Base64UrlEncode(sent.mac), eab["signature"].get<std::string>());
}

TEST_F(EabEngineTest, ATamperedMacIsRefusedAndNothingIsCreated) {
  Client c(*server_, kBase);
  auto eab = c.Eab(kKid, mac_);
  std::string sig = eab["signature"];
  sig[3] = sig[3] == 'A' ? 'B' : 'A';
  eab["signature"] = sig;
  auto r = NewAccount(c, eab);
  EXPECT_EQ(r.status, 403) << r.raw;
  EXPECT_EQ(r.type(), "urn:ietf:params:acme:error:unauthorized");
  EXPECT_NE(r.detail().find("BAD_SIGNATURE"), std::string::npos) << r.raw;
  EXPECT_EQ(AccountCount(), 0u);
}

TEST_F(EabEngineTest, EngineUnavailableIsARetryableServerErrorNotARefusal) {
  issuer_.transport_down = true;
  Client c(*server_, kBase);
  auto r = NewAccount(c, c.Eab(kKid, mac_));
  EXPECT_EQ(r.status, 503) << r.raw;
  EXPECT_EQ(r.type(), "urn:ietf:params:acme:error:serverInternal");
  EXPECT_NE(r.detail().find("ACME_CA_ERROR"), std::string::npos) << r.raw;
  EXPECT_EQ(AccountCount(), 0u);
  issuer_.transport_down = false;
  EXPECT_EQ(NewAccount(c, c.Eab(kKid, mac_)).status, 201);
}

}  // namespace
}  // namespace ca::gateway
