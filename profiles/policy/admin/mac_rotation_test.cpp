#include "profiles/policy/admin/mac_rotation.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "profiles/policy/mac_key.h"
#include "profiles/policy/testing_util.h"

namespace ca::profiles::policy::admin {
namespace {

using testing::TempDir;
constexpr int64_t kDay = kSecondsPerDay;

// The requester's side of the hand-over: RSA-OAEP SHA-256 decryption with its private key.
std::string OpenSealed(EVP_PKEY* recipient, const std::string& sealed_base64) {
  Bytes sealed = *Base64Decode(sealed_base64);
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, recipient, nullptr));
  std::string out(512, '\0');
  size_t len = out.size();
  if (EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_decrypt(ctx.get(), reinterpret_cast<uint8_t*>(out.data()), &len, sealed.data(),
                       sealed.size()) != 1)
    return "";
  out.resize(len);
  return out;
}

class MacRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = PolicyWriter::Create(dir_.Sub("p"), "op", now_);
    ASSERT_TRUE(s) << s.error().ToString();
    store_.emplace(std::move(*s));
    auto o = CreateOrganization(Ctx(), {"Org", "FR", "Paris", "1"});
    ASSERT_TRUE(o);
    org_ = o->id;
    recipient_.reset(EVP_RSA_gen(2048));
    recipient_pem_ = *ossl::PublicKeyToPem(recipient_.get());
  }
  AdminContext Ctx() { return {&*store_, "rotation", now_}; }
  PolicySnapshot Snap() { return std::move(*store_->Snapshot()); }
  ExternalAccount Account() { return *Snap().FindExternalAccount(kid_); }

  void Create(std::optional<uint32_t> days, bool with_recipient) {
    ExternalAccountFields f;
    f.organization_id = org_;
    f.contacts = std::vector<std::string>{"Jane <jane@corp.example>"};
    f.mac_rotation_days = days;
    if (with_recipient) f.mac_recipient_key_pem = recipient_pem_;
    auto c = CreateExternalAccount(Ctx(), f, /*activate=*/true, wrap_);
    ASSERT_TRUE(c) << c.error().ToString();
    kid_ = c->account.kid;
    mac_ = std::string(c->mac_key.view());
  }
  std::string StoredMac() {
    return std::string(
        testing::SoftwareUnwrap(ParseHsmWrappedMac(Account().mac_wrapped)->wrapped).view());
  }
  std::vector<std::string> Actions() {
    std::vector<std::string> out;
    for (const auto& r : Snap().Audit({kid_, "", std::nullopt, std::nullopt}))
      out.push_back(r.action);
    return out;
  }

  TempDir dir_;
  std::optional<PolicyWriter> store_;
  const EVP_PKEY* wrap_ = testing::SoftwareMacWrapKey();
  ossl::Pkey recipient_;
  std::string recipient_pem_;
  int64_t now_ = 1'700'000'000;
  std::string org_, kid_, mac_;
  MacRotationSettings settings_{.default_period_days = 0, .notice_days = 14};
};

TEST_F(MacRotationTest, DueIsTheKeysAgePlusThePeriodOwnOrDefault) {
  ExternalAccount a;
  a.created_at = 1000;
  EXPECT_EQ(MacRotationDueAt(a, settings_), std::nullopt);  // default 0: never
  MacRotationSettings yearly{.default_period_days = 365, .notice_days = 14};
  EXPECT_EQ(MacRotationDueAt(a, yearly), 1000 + 365 * kDay);  // older record: from created_at
  a.mac_rotation.key_issued_at = 5000;
  EXPECT_EQ(MacRotationDueAt(a, yearly), 5000 + 365 * kDay);
  a.mac_rotation.period_days = 90;
  EXPECT_EQ(MacRotationDueAt(a, yearly), 5000 + 90 * kDay);
  a.mac_rotation.period_days = 0;  // the account's own "never" beats the default
  EXPECT_EQ(MacRotationDueAt(a, yearly), std::nullopt);
}

TEST_F(MacRotationTest, PlanNotifiesAheadAndNeverRotatesBeforeTheAnnouncedTime) {
  ExternalAccount a;
  a.kid = "k";
  a.status = ExternalAccountStatus::kActive;
  a.not_before = 0;
  a.not_after = 400 * kDay;
  a.mac_rotation.key_issued_at = kDay;
  a.mac_rotation.period_days = 90;
  a.mac_rotation.recipient_key_pem = "PEM";
  const int64_t due = 91 * kDay;
  EXPECT_EQ(PlanMacRotation(a, settings_, due - 14 * kDay - 1).step, MacRotationStep::kNothing);
  auto on_time = PlanMacRotation(a, settings_, due - 14 * kDay);
  EXPECT_EQ(on_time.step, MacRotationStep::kNotify);
  EXPECT_EQ(on_time.rotate_at, due);
  auto late = PlanMacRotation(a, settings_, due + 3 * kDay);  // the job did not run for a while
  EXPECT_EQ(late.step, MacRotationStep::kNotify);
  EXPECT_EQ(late.rotate_at, due + 17 * kDay);  // the contacts still get the whole lead time
  a.mac_rotation.announced_at = due;
  EXPECT_EQ(PlanMacRotation(a, settings_, due - 1).step, MacRotationStep::kNothing);
  EXPECT_EQ(PlanMacRotation(a, settings_, due).step, MacRotationStep::kRotate);
  a.status = ExternalAccountStatus::kSuspended;  // a key not in use waits
  EXPECT_EQ(PlanMacRotation(a, settings_, due).step, MacRotationStep::kNothing);
  a.status = ExternalAccountStatus::kActive;
  a.mac_rotation.undelivered = "sealed";
  EXPECT_EQ(PlanMacRotation(a, settings_, due).step, MacRotationStep::kDeliver);
  a.mac_rotation = {};
  MacRotationSettings yearly{.default_period_days = 365, .notice_days = 14};
  a.mac_rotation.key_issued_at = kDay;
  auto blocked = PlanMacRotation(a, yearly, 366 * kDay);
  EXPECT_EQ(blocked.step, MacRotationStep::kBlocked);  // the default applies, no recipient key
  EXPECT_NE(blocked.why.find("no recipient key"), std::string::npos);
}

TEST_F(MacRotationTest, RotationWithoutARecipientKeyOrTooLongIsRefusedAtCreate) {
  ExternalAccountFields f;
  f.organization_id = org_;
  f.contacts = std::vector<std::string>{"Jane"};
  f.mac_rotation_days = 90;
  auto before = Snap().ToJson(now_);
  auto r = CreateExternalAccount(Ctx(), f, true, wrap_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("needs the requester's recipient key"), std::string::npos);
  f.mac_recipient_key_pem = recipient_pem_;
  f.mac_rotation_days = kMaxMacRotationDays + 1;
  r = CreateExternalAccount(Ctx(), f, true, wrap_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("at most 3650 days"), std::string::npos);
  f.mac_rotation_days = 90;
  f.mac_recipient_key_pem = "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n";
  EXPECT_FALSE(CreateExternalAccount(Ctx(), f, true, wrap_));
  EXPECT_EQ(Snap().ToJson(now_), before);
}

TEST_F(MacRotationTest, NoticeOnceThenOneRotationSealedToTheRecipientThenDelivered) {
  Create(90, true);
  const int64_t due = now_ + 90 * kDay;
  now_ = due - 14 * kDay;
  auto plan = PlanMacRotation(Account(), settings_, now_);
  ASSERT_EQ(plan.step, MacRotationStep::kNotify);
  ASSERT_TRUE(
      RecordMacRotationNotice(Ctx(), kid_, settings_, plan.rotate_at, {"jane@corp.example"}));
  EXPECT_EQ(Account().mac_rotation.announced_at, due);
  // A second run the same day: nothing to notify, the record refuses a second notice.
  EXPECT_EQ(PlanMacRotation(Account(), settings_, now_).step, MacRotationStep::kNothing);
  auto before = Snap().ToJson(now_);
  auto again = RecordMacRotationNotice(Ctx(), kid_, settings_, due, {"jane@corp.example"});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(Snap().ToJson(now_), before);
  // Not before the announced time.
  now_ = due - 1;
  EXPECT_FALSE(RotateMacKey(Ctx(), kid_, wrap_, settings_));
  EXPECT_EQ(StoredMac(), mac_);
  now_ = due;
  auto rotated = RotateMacKey(Ctx(), kid_, wrap_, settings_);
  ASSERT_TRUE(rotated) << rotated.error().ToString();
  const std::string new_mac = StoredMac();
  EXPECT_NE(new_mac, mac_);  // the old key no longer works: the stored one is another
  EXPECT_EQ(Account().mac_regenerations, 1u);
  EXPECT_EQ(Account().mac_rotation.key_issued_at, due);  // the next rotation counts from here
  EXPECT_EQ(Account().mac_rotation.announced_at, 0);
  // The record holds the new key sealed to the recipient, never in clear.
  const std::string sealed = Account().mac_rotation.undelivered;
  ASSERT_FALSE(sealed.empty());
  EXPECT_EQ(sealed.find(MacKeyToText(Secret(new_mac))), std::string::npos);
  EXPECT_EQ(OpenSealed(recipient_.get(), sealed), MacKeyToText(Secret(new_mac)));
  EXPECT_FALSE(Snap().ToJson(now_).dump().contains(MacKeyToText(Secret(new_mac))));
  // A second run: the key waits for delivery, no second rotation.
  EXPECT_EQ(PlanMacRotation(Account(), settings_, now_).step, MacRotationStep::kDeliver);
  EXPECT_FALSE(RotateMacKey(Ctx(), kid_, wrap_, settings_));
  EXPECT_EQ(StoredMac(), new_mac);
  ASSERT_TRUE(RecordMacRotationFailure(Ctx(), kid_, "delivery", "relay refused"));
  EXPECT_EQ(Account().mac_rotation.undelivered, sealed);  // kept for the next run
  ASSERT_TRUE(RecordMacKeyDelivered(Ctx(), kid_, {"jane@corp.example"}));
  EXPECT_TRUE(Account().mac_rotation.undelivered.empty());
  EXPECT_FALSE(RecordMacKeyDelivered(Ctx(), kid_, {"jane@corp.example"}));
  EXPECT_EQ(PlanMacRotation(Account(), settings_, now_).step, MacRotationStep::kNothing);
  EXPECT_EQ(Actions(),
            (std::vector<std::string>{"ext-account.create", "ext-account.mac-rotation-notice",
                                      "ext-account.rotate-mac", "ext-account.mac-rotation-failed",
                                      "ext-account.mac-key-delivered"}));
  auto audit = Snap().Audit({kid_, "", std::nullopt, std::nullopt});
  EXPECT_EQ(audit[1].after["mac_rotation_step"]["rotate_at"], FormatTime(due));
  EXPECT_EQ(audit[3].after["mac_rotation_step"]["error"], "relay refused");
  EXPECT_EQ(audit[2].after["mac_rotation"]["delivery_pending"], true);
  EXPECT_FALSE(audit[2].after["mac_rotation"].contains("undelivered"));
}

TEST_F(MacRotationTest, RegenerateByHandRestartsTheScheduleAndCancelsTheAnnouncedRotation) {
  Create(90, true);
  now_ += 80 * kDay;
  auto plan = PlanMacRotation(Account(), settings_, now_);
  ASSERT_EQ(plan.step, MacRotationStep::kNotify);
  ASSERT_TRUE(RecordMacRotationNotice(Ctx(), kid_, settings_, plan.rotate_at, {}));
  now_ += kDay;
  ASSERT_TRUE(RegenerateMacKey(Ctx(), kid_, wrap_));
  const std::string by_hand = StoredMac();
  now_ = plan.rotate_at;
  EXPECT_EQ(PlanMacRotation(Account(), settings_, now_).step, MacRotationStep::kNothing);
  EXPECT_FALSE(RotateMacKey(Ctx(), kid_, wrap_, settings_));
  EXPECT_EQ(StoredMac(), by_hand);
  EXPECT_EQ(Account().mac_rotation.recipient_key_pem, recipient_pem_);  // kept
}

}  // namespace
}  // namespace ca::profiles::policy::admin
