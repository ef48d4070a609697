#include "common/openssl.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <openssl/rsa.h>

namespace ca::ossl {
namespace {

Pkey MakeRsa(int bits) { return Pkey(EVP_RSA_gen(static_cast<unsigned>(bits))); }

TEST(Openssl, PublicKeyDerRoundTripAndFingerprint) {
  Pkey key = MakeRsa(2048);
  ASSERT_TRUE(key);
  auto der = PublicKeyToDer(key.get());
  ASSERT_TRUE(der);
  auto back = PublicKeyFromDer(*der);
  ASSERT_TRUE(back);
  EXPECT_EQ(EVP_PKEY_eq(key.get(), back->get()), 1);
  EXPECT_EQ(PublicKeyFingerprint(key.get())->size(), 32u);
  EXPECT_EQ(*PublicKeyFingerprint(key.get()), *PublicKeyFingerprint(back->get()));
}

TEST(Openssl, TruncatedDerIsRejected) {
  Pkey key = MakeRsa(2048);
  auto der = *PublicKeyToDer(key.get());
  der.pop_back();
  auto r = PublicKeyFromDer(der);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCrypto);
}

TEST(Openssl, WriteFileAtomicRefusesOverwrite) {
  char tmpl[] = "/tmp/ossl_test_XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string path = dir + "/f";
  ASSERT_TRUE(WriteFileAtomic(path, "one", 0600, false));
  auto again = WriteFileAtomic(path, "two", 0600, false);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(*ReadFile(path), "one");
  ASSERT_TRUE(WriteFileAtomic(path, "three", 0600, true));
  EXPECT_EQ(*ReadFile(path), "three");
  unlink(path.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace ca::ossl
