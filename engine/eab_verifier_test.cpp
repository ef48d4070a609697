#include "engine/eab_verifier.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include "engine/testing/engine_fixture.h"
#include "hsm/testing/softhsm_fixture.h"
#include "profiles/policy/admin/admin.h"

namespace ca::engine {
namespace {

std::vector<uint8_t> Hmac(const std::string& key, const std::string& data) {
  std::vector<uint8_t> out(32);
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const uint8_t*>(data.data()), data.size(), out.data(), &len);
  return out;
}

class EabVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = hsm::testing::SoftHsmFixture::Create("eab-verifier");
    ASSERT_TRUE(f) << f.error().ToString();
    fixture_ = std::move(*f);
    token_ = *fixture_->OpenToken();
    auto key = token_->GenerateKeyPair(hsm::KeyType::kRsa3072, "mac-wrap", hsm::KeyUsage::kUnwrap);
    ASSERT_TRUE(key) << key.error().ToString();
    world_ = testing::MakePolicyWorld(dir_.Sub("policy"), (*key)->public_key());
    auto v = EabVerifier::Open(token_, "mac-wrap");
    ASSERT_TRUE(v) << v.error().ToString();
    verifier_ = std::move(*v);
  }
  bool Verify(const std::string& kid, const std::string& input, const std::vector<uint8_t>& mac) {
    auto snapshot = world_.store->Snapshot();
    EXPECT_TRUE(snapshot);
    auto r = verifier_->Verify(*snapshot, {kid, input, mac, api::CaEnvironment::kProduction});
    EXPECT_TRUE(r) << r.error().ToString();
    return r.value_or(true);
  }

  testing::TempDir dir_;
  std::unique_ptr<hsm::testing::SoftHsmFixture> fixture_;
  std::shared_ptr<hsm::Token> token_;
  testing::PolicyWorld world_;
  std::unique_ptr<EabVerifier> verifier_;
};

TEST_F(EabVerifierTest, TheRightMacVerifiesAndEverythingElseIsRefused) {
  const std::string input = "eyJhbGciOiJIUzI1NiJ9.eyJrdHkiOiJFQyJ9";
  auto mac = Hmac(world_.mac_key, input);
  EXPECT_TRUE(Verify(world_.kid, input, mac));

  auto tampered = mac;
  tampered[0] ^= 1;
  EXPECT_FALSE(Verify(world_.kid, input, tampered));
  EXPECT_FALSE(Verify(world_.kid, input + "x", mac));
  EXPECT_FALSE(Verify(world_.kid, input, {}));
  EXPECT_FALSE(Verify(world_.kid, input, std::vector<uint8_t>(mac.begin(), mac.begin() + 16)));
  // An unknown KeyID: refused, with the same HSM work (a decoy record).
  EXPECT_FALSE(Verify("00000000-0000-4000-8000-000000000000", input, mac));
}

TEST_F(EabVerifierTest, AWrappedKeyCopiedToAnotherKidIsRefused) {
  profiles::policy::admin::AdminContext ctx{world_.store.get(), "ra:test", world_.now};
  profiles::policy::admin::ExternalAccountFields f;
  f.organization_id = world_.org_id;
  f.contacts = std::vector<std::string>{"Bob"};
  auto wrap_key = token_->FindKey("mac-wrap");
  ASSERT_TRUE(wrap_key);
  auto other =
      profiles::policy::admin::CreateExternalAccount(ctx, f, true, (*wrap_key)->public_key());
  ASSERT_TRUE(other) << other.error().ToString();
  auto source = world_.store->Snapshot()->FindExternalAccount(world_.kid);
  // The copy, as someone writing the policy store's file directly would make it.
  auto w = world_.store->BeginWrite("attacker", world_.now);
  ASSERT_TRUE(w);
  profiles::policy::ExternalAccount copied = other->account;
  copied.mac_wrapped = source->mac_wrapped;
  ASSERT_TRUE(w->PutExternalAccount(copied));
  ASSERT_TRUE(w->Audit("tamper", "external_account", copied.kid, copied.kid, "", nullptr, nullptr));
  ASSERT_TRUE(w->Commit());
  const std::string input = "p.q";
  EXPECT_FALSE(Verify(copied.kid, input, Hmac(world_.mac_key, input)));
  EXPECT_TRUE(Verify(world_.kid, input, Hmac(world_.mac_key, input)));
}

TEST_F(EabVerifierTest, OpenFailsWithoutTheKey) {
  auto v = EabVerifier::Open(token_, "no-such-key");
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("no-such-key"), std::string::npos);
}

}  // namespace
}  // namespace ca::engine
