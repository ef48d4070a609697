// Concurrency, token-restart recovery and PIN failures. The fault-injection module
// (testing/pkcs11_shim.cpp) forwards to SoftHSM, counts C_Login and injects C_Sign errors.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "hsm/testing/hsm_test_util.h"
#include "hsm/p11.h"

namespace ca::hsm {
namespace {

using testing::SoftHsmFixture;

struct Shim {
  unsigned long (*login_calls)() = nullptr;
  void (*fail_next_signs)(CK_RV, unsigned long) = nullptr;
};

Shim LoadShim() {
  void* h = dlopen(CA_PKCS11_SHIM, RTLD_NOW | RTLD_LOCAL);
  EXPECT_NE(h, nullptr) << dlerror();
  Shim s;
  s.login_calls = reinterpret_cast<unsigned long (*)()>(dlsym(h, "ca_shim_login_calls"));
  s.fail_next_signs =
      reinterpret_cast<void (*)(CK_RV, unsigned long)>(dlsym(h, "ca_shim_fail_next_signs"));
  return s;
}

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = SoftHsmFixture::Create("recovery-test");
    ASSERT_TRUE(f.has_value()) << f.error().ToString();
    fixture_ = std::move(*f);
    config_ = fixture_->config(2);
    config_.module_path = CA_PKCS11_SHIM;
    shim_ = LoadShim();
    auto t = Token::Open(config_, fixture_->user_pin());
    ASSERT_TRUE(t.has_value()) << t.error().ToString();
    token_ = *t;
    auto k = token_->GenerateKeyPair(KeyType::kEcP256, "signer");
    ASSERT_TRUE(k.has_value()) << k.error().ToString();
    key_ = *k;
  }
  void TearDown() override {
    key_.reset();
    token_.reset();
    fixture_.reset();
  }

  void ExpectSigns(const std::shared_ptr<HsmKey>& key, const std::string& data) {
    auto sig = key->Sign(SignScheme::kEcdsaSha256, Span(data));
    ASSERT_TRUE(sig.has_value()) << sig.error().ToString();
    EXPECT_TRUE(SoftwareVerify(key->public_key(), SignScheme::kEcdsaSha256, data, *sig));
  }

  std::unique_ptr<SoftHsmFixture> fixture_;
  TokenConfig config_;
  Shim shim_;
  std::shared_ptr<Token> token_;
  std::shared_ptr<HsmKey> key_;
};

TEST_F(RecoveryTest, TwoThreadsSignAtOnce) {
  auto rsa = ASSERT_OK(token_->GenerateKeyPair(KeyType::kRsa3072, "rsa-signer"));
  auto evp = ASSERT_OK(ToEvpPkey(rsa));
  std::atomic<int> valid{0}, failed{0};
  auto worker = [&](int t) {
    for (int i = 0; i < 200; ++i) {
      std::string data = "thread " + std::to_string(t) + " message " + std::to_string(i);
      Bytes sig;
      if (t == 0) {  // one thread through HsmKey, the other through the seam
        auto s = rsa->Sign(SignScheme::kRsaPkcs1Sha256, Span(data));
        if (!s) {
          ++failed;
          continue;
        }
        sig = *s;
      } else {
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        size_t len = 384;
        sig.resize(len);
        bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, evp.get()) == 1 &&
                  EVP_DigestSign(ctx, sig.data(), &len, Span(data).data(), data.size()) == 1;
        EVP_MD_CTX_free(ctx);
        if (!ok) {
          ++failed;
          continue;
        }
        sig.resize(len);
      }
      if (SoftwareVerify(rsa->public_key(), SignScheme::kRsaPkcs1Sha256, data, sig)) ++valid;
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(valid.load(), 400);
}

TEST_F(RecoveryTest, SignsAgainAfterAllSessionsClosed) {
  ExpectSigns(key_, "before");
  unsigned long logins = shim_.login_calls();
  ASSERT_TRUE(token_->CloseAllSessionsForTest().has_value());
  ExpectSigns(key_, "after");
  EXPECT_EQ(shim_.login_calls(), logins + 1);  // one re-login for the whole pool
  ExpectSigns(key_, "and again");
  EXPECT_EQ(shim_.login_calls(), logins + 1);
  // Other operations recover too.
  ASSERT_TRUE(token_->CloseAllSessionsForTest().has_value());
  auto found = ASSERT_OK(token_->FindKey("signer"));
  ExpectSigns(found, "found after restart");
}

TEST_F(RecoveryTest, ClosedFromAnotherThreadWhileSigning) {
  std::atomic<bool> done{false};
  std::atomic<int> ok{0}, failed{0};
  std::string first_error;
  std::mutex mu;
  auto signer = [&](int t) {
    // Signs until every close has happened (at least 150 each): on a quiet machine 150 signatures
    // end before the first close at 40 ms, and the test would then see no session loss at all.
    for (int i = 0; i < 150 || !done.load(); ++i) {
      std::string data = std::to_string(t) + ":" + std::to_string(i);
      auto sig = key_->Sign(SignScheme::kEcdsaSha256, Span(data));
      if (sig && SoftwareVerify(key_->public_key(), SignScheme::kEcdsaSha256, data, *sig)) {
        ++ok;
      } else {
        ++failed;
        std::lock_guard lock(mu);
        if (first_error.empty() && !sig) first_error = sig.error().ToString();
      }
    }
  };
  unsigned long logins = shim_.login_calls();
  std::thread a(signer, 0), b(signer, 1);
  std::thread closer([&] {
    for (int i = 0; i < 4; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(40));
      EXPECT_TRUE(token_->CloseAllSessionsForTest().has_value());
    }
    done = true;
  });
  a.join();
  b.join();
  closer.join();
  EXPECT_EQ(failed.load(), 0) << first_error;
  EXPECT_GE(ok.load(), 300);
  // No double login: at most one per close, despite two threads seeing the failure.
  EXPECT_GE(shim_.login_calls(), logins + 1);
  EXPECT_LE(shim_.login_calls(), logins + 4);
}

TEST_F(RecoveryTest, DeviceRemovedIsRetriedOnceOnly) {
  unsigned long logins = shim_.login_calls();
  shim_.fail_next_signs(CKR_DEVICE_REMOVED, 1);
  ExpectSigns(key_, "retried");
  EXPECT_EQ(shim_.login_calls(), logins + 1);

  shim_.fail_next_signs(CKR_DEVICE_REMOVED, 5);
  auto sig = key_->Sign(SignScheme::kEcdsaSha256, Span(std::string("twice")));
  ASSERT_FALSE(sig.has_value());
  EXPECT_EQ(sig.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(sig.error().message, "C_Sign: CKR_DEVICE_REMOVED");
  EXPECT_EQ(shim_.login_calls(), logins + 2);  // one recovery, one retry, no loop
  shim_.fail_next_signs(CKR_OK, 0);
  ExpectSigns(key_, "healthy again");
}

TEST_F(RecoveryTest, OtherErrorsNameTheCodeAndAreNotRetried) {
  unsigned long logins = shim_.login_calls();
  shim_.fail_next_signs(CKR_DEVICE_ERROR, 1);
  auto sig = key_->Sign(SignScheme::kEcdsaSha256, Span(std::string("x")));
  ASSERT_FALSE(sig.has_value());
  EXPECT_EQ(sig.error().code, ErrorCode::kHsm);
  EXPECT_EQ(sig.error().message, "C_Sign: CKR_DEVICE_ERROR");
  EXPECT_EQ(shim_.login_calls(), logins);
  ExpectSigns(key_, "next one works");

  // Through the seam: X509_sign fails and the HSM error is available to the caller.
  auto evp = ASSERT_OK(ToEvpPkey(key_));
  X509* cert = X509_new();
  X509_set_pubkey(cert, evp.get());
  shim_.fail_next_signs(CKR_DEVICE_ERROR, 1);
  EXPECT_EQ(X509_sign(cert, evp.get(), EVP_sha256()), 0);
  ERR_clear_error();
  auto seam_error = TakeLastSeamError();
  ASSERT_TRUE(seam_error.has_value());
  EXPECT_EQ(seam_error->code, ErrorCode::kHsm);
  EXPECT_EQ(seam_error->message, "C_Sign: CKR_DEVICE_ERROR");
  EXPECT_FALSE(TakeLastSeamError().has_value());
  EXPECT_GT(X509_sign(cert, evp.get(), EVP_sha256()), 0);
  X509_free(cert);
}

TEST_F(RecoveryTest, WrongPinFailsAtOnceAndIsTriedOnce) {
  // Login state is per process: close the logged-in token first so the PIN is really checked.
  key_.reset();
  token_.reset();
  unsigned long logins = shim_.login_calls();
  auto t = Token::Open(config_, Secret("wrong-pin"));
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(t.error().message.find("C_Login: CKR_PIN_INCORRECT"), std::string::npos)
      << t.error().message;
  EXPECT_EQ(t.error().message.find("wrong-pin"), std::string::npos);
  EXPECT_EQ(shim_.login_calls(), logins + 1);
}

TEST_F(RecoveryTest, PinChangedUnderARecoveringTokenDoesNotLoop) {
  // Change the user PIN behind the token's back, then restart the sessions.
  {
    auto module = ASSERT_OK(p11::Module::Load(CA_PKCS11_SHIM));
    auto slot = ASSERT_OK(module->FindSlotByTokenLabel("recovery-test"));
    auto s = ASSERT_OK(p11::Session::Open(module, slot));
    Secret old_pin = fixture_->user_pin();
    std::string new_pin = "changed-pin-9999";
    ASSERT_EQ(
        module->fn()->C_SetPIN(s.handle(), const_cast<CK_UTF8CHAR*>(old_pin.data()), old_pin.size(),
                               reinterpret_cast<CK_UTF8CHAR*>(new_pin.data()), new_pin.size()),
        CKR_OK);
  }
  ASSERT_TRUE(token_->CloseAllSessionsForTest().has_value());
  unsigned long logins = shim_.login_calls();
  auto sig = key_->Sign(SignScheme::kEcdsaSha256, Span(std::string("x")));
  ASSERT_FALSE(sig.has_value());
  EXPECT_EQ(sig.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(sig.error().message.find("C_Login: CKR_PIN_INCORRECT"), std::string::npos);
  EXPECT_EQ(shim_.login_calls(), logins + 1);
  // Later operations fail the same way without trying the PIN again.
  for (int i = 0; i < 3; ++i) {
    auto again = key_->Sign(SignScheme::kEcdsaSha256, Span(std::string("y")));
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, ErrorCode::kPermissionDenied);
  }
  EXPECT_EQ(shim_.login_calls(), logins + 1);
}

TEST_F(RecoveryTest, ReplacedKeyIsRefusedAfterRecovery) {
  // Delete the key pair and make a different one with the same label.
  {
    auto module = ASSERT_OK(p11::Module::Load(CA_PKCS11_SHIM));
    auto slot = ASSERT_OK(module->FindSlotByTokenLabel("recovery-test"));
    auto s = ASSERT_OK(p11::Session::Open(module, slot));
    auto objects = ASSERT_OK(s.Find({p11::AttrStr(CKA_LABEL, std::string("signer"))}));
    ASSERT_EQ(objects.size(), 2u);
    for (CK_OBJECT_HANDLE h : objects)
      ASSERT_EQ(module->fn()->C_DestroyObject(s.handle(), h), CKR_OK);
  }
  ASSERT_OK(token_->GenerateKeyPair(KeyType::kEcP256, "signer"));
  ASSERT_TRUE(token_->CloseAllSessionsForTest().has_value());
  auto sig = key_->Sign(SignScheme::kEcdsaSha256, Span(std::string("x")));
  ASSERT_FALSE(sig.has_value());
  EXPECT_EQ(sig.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(sig.error().message.find("no longer has the public key"), std::string::npos)
      << sig.error().message;
  // The new key, found afresh, signs.
  auto fresh = ASSERT_OK(token_->FindKey("signer"));
  ExpectSigns(fresh, "new key");
}

}  // namespace
}  // namespace ca::hsm
