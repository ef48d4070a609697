#include "profiles/issuance/weak_key.h"

#include <gtest/gtest.h>

#include "profiles/issuance/testing/test_pki.h"

namespace ca::profiles::issuance {
namespace {

ossl::Bn Dec(const char* s) {
  BIGNUM* bn = nullptr;
  EXPECT_GT(BN_dec2bn(&bn, s), 0);
  return ossl::Bn(bn);
}

TEST(WeakKeyTest, IntegerSqrt) {
  for (const char* s : {"0", "1", "2", "3", "4", "15", "16", "17", "99999999999999999999999999"}) {
    ossl::Bn n = Dec(s);
    auto r = IntegerSqrt(n.get());
    ASSERT_TRUE(r);
    ossl::BnCtx ctx(BN_CTX_new());
    ossl::Bn sq(BN_new()), next(BN_dup(r->get())), next_sq(BN_new());
    BN_sqr(sq.get(), r->get(), ctx.get());
    BN_add_word(next.get(), 1);
    BN_sqr(next_sq.get(), next.get(), ctx.get());
    EXPECT_LE(BN_cmp(sq.get(), n.get()), 0) << s;
    EXPECT_GT(BN_cmp(next_sq.get(), n.get()), 0) << s;
  }
  ossl::Bn n = Dec("99999999999999999999999999");
  char* text = BN_bn2dec(IntegerSqrt(n.get())->get());
  EXPECT_STREQ(text, "9999999999999");
  OPENSSL_free(text);
}

TEST(WeakKeyTest, SmallPrimeFactor) {
  ossl::Bn n = Dec("1000003");  // prime
  EXPECT_FALSE(SmallPrimeFactor(n.get()));
  ossl::Bn m = Dec("99460729");  // 9973 · 9973
  EXPECT_EQ(SmallPrimeFactor(m.get()), 9973u);
  ossl::Bn even = Dec("1000000");
  EXPECT_EQ(SmallPrimeFactor(even.get()), 2u);
  ossl::Bn mod;
  BIGNUM* raw = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(testing::Rsa3072(1), "n", &raw), 1);
  mod.reset(raw);
  EXPECT_FALSE(SmallPrimeFactor(mod.get()));
  auto fermat = FermatFactorable(mod.get());
  ASSERT_TRUE(fermat);
  EXPECT_FALSE(*fermat);
  EXPECT_FALSE(HasRocaFingerprint(mod.get()));
}

TEST(WeakKeyTest, FermatFindsClosePrimesWithinRounds) {
  // 1000003 · 1000033: a = ceil(sqrt(n)) = 1000018 gives b = 15 at once.
  ossl::Bn n = Dec("1000036000099");
  EXPECT_TRUE(*FermatFactorable(n.get(), 1));
  // 1000003 · 1006949: found at the 7th step, not before (each step's a^2 − n comes from the
  // previous one by additions).
  ossl::Bn seventh = Dec("1006952020847");
  EXPECT_FALSE(*FermatFactorable(seventh.get(), 6));
  EXPECT_TRUE(*FermatFactorable(seventh.get(), 7));
  // 1009 · 1000003: far apart, not found in 100 rounds.
  ossl::Bn far = Dec("1009003027");
  EXPECT_FALSE(*FermatFactorable(far.get()));
}

// A ROCA-style prime: k·M + (65537^a mod M), M the product of the primes up to 167.
ossl::Bn RocaPrime(int bits) {
  ossl::BnCtx ctx(BN_CTX_new());
  ossl::Bn m(BN_new()), g(BN_new()), a(BN_new()), r(BN_new()), k(BN_new()), p(BN_new());
  BN_one(m.get());
  for (unsigned q = 2; q <= 167; ++q) {
    bool prime = true;
    for (unsigned d = 2; d * d <= q; ++d) prime = prime && q % d != 0;
    if (prime) BN_mul_word(m.get(), q);
  }
  BN_set_word(g.get(), 65537);
  // k uniform in [0.75·2^bits / M, 2^bits / M): p has exactly `bits` bits, the top two set.
  ossl::Bn lo(BN_new()), hi(BN_new()), span(BN_new());
  BN_set_bit(hi.get(), bits);
  BN_div(hi.get(), nullptr, hi.get(), m.get(), ctx.get());
  BN_set_bit(lo.get(), bits - 1);
  BN_set_bit(lo.get(), bits - 2);
  BN_div(lo.get(), nullptr, lo.get(), m.get(), ctx.get());
  BN_add_word(lo.get(), 1);
  BN_sub(span.get(), hi.get(), lo.get());
  for (;;) {
    BN_rand(a.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
    BN_mod_exp(r.get(), g.get(), a.get(), m.get(), ctx.get());
    BN_rand_range(k.get(), span.get());
    BN_add(k.get(), k.get(), lo.get());
    BN_mul(p.get(), k.get(), m.get(), ctx.get());
    BN_add(p.get(), p.get(), r.get());
    if (BN_check_prime(p.get(), ctx.get(), nullptr) == 1) return p;
  }
}

TEST(WeakKeyTest, RocaFingerprintRefused) {
  ossl::Bn p = RocaPrime(1536), q = RocaPrime(1536);
  ossl::Pkey key = testing::RsaFromPrimes(p.get(), q.get());
  ASSERT_EQ(EVP_PKEY_get_bits(key.get()), 3072);
  BIGNUM* n = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(key.get(), "n", &n), 1);
  ossl::Bn modulus(n);
  EXPECT_TRUE(HasRocaFingerprint(modulus.get()));
  auto st = CheckSubscriberKey(key.get(), testing::RepoProfile(ProfileId::kSsl));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "weak key: the modulus has the ROCA fingerprint (CVE-2017-15361)");
}

TEST(WeakKeyTest, RandomModuliHaveNoRocaFingerprint) {
  ossl::Bn n(BN_new());
  for (int i = 0; i < 2000; ++i) {
    BN_rand(n.get(), 3072, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD);
    EXPECT_FALSE(HasRocaFingerprint(n.get()));
  }
}

TEST(WeakKeyTest, KeySizesFollowTheProfile) {
  Profile rgs = testing::RepoProfile(ProfileId::kSslRgs);
  Profile ssl = testing::RepoProfile(ProfileId::kSsl);
  EXPECT_EQ(rgs.rsa_key_bits, std::vector<int>{3072});
  EXPECT_EQ(ssl.rsa_key_bits, std::vector<int>{3072});
  EXPECT_TRUE(CheckSubscriberKey(testing::Rsa3072(1), rgs));
  auto st = CheckSubscriberKey(testing::Rsa2048(), ssl);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "RSA key size 2048 not accepted: the profile requires 3072 bits");
  ossl::Pkey rsa4096(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{4096}));
  for (ProfileId id : profiles::policy::kAllProfiles) {
    st = CheckSubscriberKey(rsa4096.get(), testing::RepoProfile(id));
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message, "RSA key size 4096 not accepted: the profile requires 3072 bits");
  }
}

// An operator's ECDSA profile takes the curves it lists and refuses RSA; the shipped ones refuse
// EC.
TEST(WeakKeyTest, EcKeysFollowTheProfile) {
  Profile ec = testing::RepoProfile(ProfileId::kSsl);
  ec.rsa_key_bits.clear();
  ec.ec_curves = {"P-256"};
  ossl::Pkey p256(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ossl::Pkey p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  EXPECT_TRUE(CheckSubscriberKey(p256.get(), ec));
  auto st = CheckSubscriberKey(p384.get(), ec);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "EC curve P-384 not accepted: the profile requires ECDSA P-256");
  st = CheckSubscriberKey(testing::Rsa3072(1), ec);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "key type RSA not accepted: the profile requires ECDSA P-256");
  st = CheckSubscriberKey(p256.get(), testing::RepoProfile(ProfileId::kSsl));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "key type EC not accepted: the profile requires RSA 3072");
}

}  // namespace
}  // namespace ca::profiles::issuance
