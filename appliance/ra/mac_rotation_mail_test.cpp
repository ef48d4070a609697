#include "appliance/ra/mac_rotation_mail.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "profiles/policy/mac_key.h"

namespace ca::appliance::ra {
namespace {

using profiles::policy::ExternalAccount;

class MacRotationMailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    recipient_.reset(EVP_RSA_gen(2048));
    account_.kid = "3f0c2a9e-0b7d-4c1e-9a51-6d2f8e7b1c40";
    account_.mac_rotation.key_issued_at = 1'767'225'600;  // 2026-01-01T00:00:00Z
    account_.mac_rotation.undelivered =
        Base64Encode(*profiles::policy::EncryptMacKeyForRecipient(mac_, recipient_.get()));
  }
  ossl::Pkey recipient_;
  Secret mac_ = profiles::policy::GenerateMacKey();
  ExternalAccount account_;
  std::vector<std::string> to_ = {"jane@corp.example"};
};

TEST_F(MacRotationMailTest, NoticeSaysWhenAndWhatItMeansForExistingAcmeAccounts) {
  auto m = BuildMacRotationNotice(account_, 1'768'435'200, to_);  // 2026-01-15T00:00:00Z
  ASSERT_TRUE(reports::mail::CheckMessage(m));
  EXPECT_EQ(m.subject,
            "ACME external account " + account_.kid + ": MAC key replaced on 2026-01-15T00:00:00Z");
  EXPECT_EQ(m.to, to_);
  EXPECT_NE(m.html.find("<b>2026-01-15T00:00:00Z</b>"), std::string::npos);
  EXPECT_NE(m.html.find("encrypted to the RSA public key registered"), std::string::npos);
  EXPECT_NE(m.html.find("ACME accounts already registered with this KeyID keep working"),
            std::string::npos);
  EXPECT_TRUE(m.attachments.empty());
}

TEST_F(MacRotationMailTest, KeyMailCarriesOnlyTheSealedKeyNeverTheClearOne) {
  auto m = BuildRotatedMacKeyMail(account_, to_);
  ASSERT_TRUE(reports::mail::CheckMessage(m));
  const std::string clear = profiles::policy::MacKeyToText(mac_);
  const std::string clear_b64 = Base64Encode(std::span(mac_.data(), mac_.size()));
  for (const std::string& part : {m.subject, m.html, m.attachments.at(0).bytes}) {
    EXPECT_EQ(part.find(clear), std::string::npos);
    EXPECT_EQ(part.find(clear_b64), std::string::npos);
  }
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].name, "mac-key-" + account_.kid + ".b64");
  EXPECT_EQ(m.attachments[0].bytes, account_.mac_rotation.undelivered + "\n");
  EXPECT_NE(m.html.find(account_.mac_rotation.undelivered), std::string::npos);
  EXPECT_NE(m.html.find("rsa_oaep_md:sha256"), std::string::npos);
  EXPECT_NE(m.html.find("2026-01-01T00:00:00Z"), std::string::npos);
}

}  // namespace
}  // namespace ca::appliance::ra
