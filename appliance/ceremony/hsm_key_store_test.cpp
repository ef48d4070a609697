// The PKCS#11 side of the key store against a SoftHSM token in a temp dir: keys generated on the
// token sign certificates and transcripts through the EVP_PKEY seam.
#include <gtest/gtest.h>

#include "appliance/ceremony/certs.h"
#include "appliance/ceremony/key_store.h"
#include "appliance/ceremony/transcript.h"
#include "common/encoding.h"
#include "hsm/testing/softhsm_fixture.h"
#include "pki/lint.h"

namespace ca::appliance::ceremony {
namespace {

TEST(HsmKeyStoreTest, GeneratesSignsFindsAndRefusesWrongPin) {
  auto fixture = hsm::testing::SoftHsmFixture::Create("ceremony-unit");
  ASSERT_TRUE(fixture) << fixture.error().message;
  auto provider = NewHsmTokenProvider();
  auto bad = provider->Open((*fixture)->module_path(), "ceremony-unit", Secret("wrong-pin"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kPermissionDenied);

  auto store = provider->Open((*fixture)->module_path(), "ceremony-unit", (*fixture)->user_pin());
  ASSERT_TRUE(store) << store.error().message;
  auto key = (*store)->Generate(hsm::KeyType::kEcP384, "unit-root");
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->id.size(), 20u);

  Subject s;
  s.attributes = {{"CN", "HSM Unit Root"}};
  s.common_name = "HSM Unit Root";
  time_t now = time(nullptr);
  auto cert = BuildRootCertificate({key->public_key.get(), key->id, s, now, now + 3650 * 86400},
                                   key->signer.get());
  ASSERT_TRUE(cert) << cert.error().message;
  auto problems = pki::LintCertificate(cert->get(), cert->get(), pki::CertRole::kRoot);
  EXPECT_TRUE(problems.empty()) << pki::FormatFindings(problems);

  auto sig = SignDetached(key->signer.get(), AsBytes("transcript bytes"));
  ASSERT_TRUE(sig) << sig.error().message;
  EXPECT_TRUE(VerifyDetached(key->public_key.get(), AsBytes("transcript bytes"), *sig));

  ASSERT_TRUE((*store)->StoreCertificate("unit-root", key->id, cert->get()));
  EXPECT_TRUE(*(*store)->HasObject("unit-root"));
  EXPECT_FALSE(*(*store)->HasObject("unit-other"));
  auto found = (*store)->Find("unit-root");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, key->id);
  EXPECT_EQ(EVP_PKEY_eq(found->public_key.get(), X509_get0_pubkey(cert->get())), 1);
  auto again = (*store)->Generate(hsm::KeyType::kEcP384, "unit-root");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  auto missing = (*store)->Find("nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace ca::appliance::ceremony
