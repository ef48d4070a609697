#include "profiles/issuance/csr_check.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "profiles/issuance/testing/test_pki.h"

namespace ca::profiles::issuance {
namespace {

using testing::MakeCsr;

struct Lookup {
  std::vector<Bytes> known;
  int calls = 0;
  KnownKeyLookup Fn() {
    return [this](std::span<const uint8_t> fp) -> Result<bool> {
      ++calls;
      for (const auto& k : known) {
        if (std::equal(k.begin(), k.end(), fp.begin(), fp.end())) return true;
      }
      return false;
    };
  }
};

Result<AcceptedCsr> Check(const X509_REQ* csr, std::vector<std::string> names, Lookup& lookup,
                          ProfileId id = ProfileId::kSsl) {
  CsrCheckRequest r;
  r.csr = csr;
  r.names = std::move(names);
  r.ca_certificates = {testing::GetTestCa().intermediate.get(), testing::GetTestCa().root.get()};
  r.known_key = lookup.Fn();
  return CheckCsr(testing::RepoProfile(id), r);
}

void ExpectRefused(const Result<AcceptedCsr>& result, const std::string& needle) {
  ASSERT_FALSE(result) << "accepted, expected: " << needle;
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(result.error().message.find(needle), std::string::npos) << result.error().message;
}

TEST(CsrCheckTest, GoodKeyAccepted) {
  Lookup lookup;
  auto csr = MakeCsr(testing::Rsa3072(1), "www.example.fr", {"www.example.fr", "Example.FR"});
  auto accepted = Check(csr.get(), {"example.fr", "www.example.fr"}, lookup);
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ(lookup.calls, 1);
  EXPECT_EQ(accepted->spki_sha256, *ossl::PublicKeyFingerprint(testing::Rsa3072(1)));
  EXPECT_EQ(EVP_PKEY_eq(accepted->public_key.get(), testing::Rsa3072(1)), 1);
}

// The engine hands the DER (decoded once): same answers as the decoded object, refusals included.
TEST(CsrCheckTest, DerFormReadsTheSameCsr) {
  Lookup lookup;
  auto csr = MakeCsr(testing::Rsa3072(1), "www.example.fr", {"www.example.fr"});
  auto der = ossl::CsrToDer(csr.get());
  ASSERT_TRUE(der);
  CsrCheckRequest r;
  r.csr_der = *der;
  r.names = {"www.example.fr"};
  r.ca_certificates = {testing::GetTestCa().intermediate.get()};
  r.known_key = lookup.Fn();
  auto accepted = CheckCsr(testing::RepoProfile(ProfileId::kSsl), r);
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ(accepted->spki_sha256, *ossl::PublicKeyFingerprint(testing::Rsa3072(1)));
  r.names = {"other.example.fr"};
  ExpectRefused(CheckCsr(testing::RepoProfile(ProfileId::kSsl), r), "names differ");
  const std::vector<uint8_t> junk = {0x30, 0x00};
  r.csr_der = junk;
  ExpectRefused(CheckCsr(testing::RepoProfile(ProfileId::kSsl), r), "not a DER PKCS#10 request");
}

TEST(CsrCheckTest, CnOnlyCsrAccepted) {
  Lookup lookup;
  auto csr = MakeCsr(testing::Rsa3072(1), "www.example.fr", {});
  EXPECT_TRUE(Check(csr.get(), {"www.example.fr"}, lookup));
}

TEST(CsrCheckTest, Rsa2048Refused) {
  Lookup lookup;
  auto csr = MakeCsr(testing::Rsa2048(), std::nullopt, {"www.example.fr"});
  ExpectRefused(Check(csr.get(), {"www.example.fr"}, lookup), "RSA key size 2048 not accepted");
}

TEST(CsrCheckTest, Exponent3Refused) {
  Lookup lookup;
  auto csr = MakeCsr(testing::Rsa3072Exponent3(), std::nullopt, {"www.example.fr"});
  ExpectRefused(Check(csr.get(), {"www.example.fr"}, lookup), "RSA public exponent 3 not accepted");
}

TEST(CsrCheckTest, EcKeyRefused) {
  Lookup lookup;
  ossl::Pkey ec(EVP_EC_gen("P-256"));
  auto csr = MakeCsr(ec.get(), std::nullopt, {"www.example.fr"});
  ExpectRefused(Check(csr.get(), {"www.example.fr"}, lookup), "key type EC not accepted");
}

TEST(CsrCheckTest, MismatchedNamesRefused) {
  Lookup lookup;
  auto csr = MakeCsr(testing::Rsa3072(1), std::nullopt, {"www.example.fr", "evil.example.com"});
  ExpectRefused(Check(csr.get(), {"www.example.fr", "example.fr"}, lookup),
                "missing: example.fr; not in the order: evil.example.com");
}

TEST(CsrCheckTest, CnNotInSanRefused) {
  Lookup lookup;
  auto csr = MakeCsr(testing::Rsa3072(1), "other.example.fr", {"www.example.fr"});
  ExpectRefused(Check(csr.get(), {"www.example.fr"}, lookup),
                "subject CN 'other.example.fr' is not among the subjectAltName names");
}

TEST(CsrCheckTest, ReusedKeyRefused) {
  Lookup lookup;
  lookup.known.push_back(*ossl::PublicKeyFingerprint(testing::Rsa3072(1)));
  auto csr = MakeCsr(testing::Rsa3072(1), std::nullopt, {"www.example.fr"});
  ExpectRefused(Check(csr.get(), {"www.example.fr"}, lookup), "certified before");
  EXPECT_EQ(lookup.calls, 1);
}

TEST(CsrCheckTest, LookupFailurePropagates) {
  CsrCheckRequest r;
  auto csr = MakeCsr(testing::Rsa3072(1), std::nullopt, {"www.example.fr"});
  r.csr = csr.get();
  r.names = {"www.example.fr"};
  r.known_key = [](std::span<const uint8_t>) -> Result<bool> {
    return Fail(ErrorCode::kUnavailable, "store down");
  };
  auto result = CheckCsr(testing::RepoProfile(ProfileId::kSsl), r);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
}

TEST(CsrCheckTest, CaKeyRefused) {
  Lookup lookup;
  auto csr = MakeCsr(testing::GetTestCa().intermediate_key, std::nullopt, {"www.example.fr"});
  ExpectRefused(Check(csr.get(), {"www.example.fr"}, lookup), "the public key is the CA's own key");
  EXPECT_EQ(lookup.calls, 0);
}

TEST(CsrCheckTest, BadSignatureRefused) {
  Lookup lookup;
  auto csr = MakeCsr(testing::Rsa3072(1), std::nullopt, {"www.example.fr"});
  Bytes der = *ossl::CsrToDer(csr.get());
  der[der.size() - 10] ^= 0x01;  // inside the signature value
  auto tampered = ossl::CsrFromDer(der);
  ASSERT_TRUE(tampered);
  ExpectRefused(Check(tampered->get(), {"www.example.fr"}, lookup),
                "the signature does not verify");
}

TEST(CsrCheckTest, WildcardRulesApplyToTheOrder) {
  Lookup lookup;
  auto wild = MakeCsr(testing::Rsa3072(1), std::nullopt, {"*.example.fr"});
  ExpectRefused(Check(wild.get(), {"*.example.fr"}, lookup), "does not accept wildcard names");
  auto plain = MakeCsr(testing::Rsa3072(1), std::nullopt, {"www.example.fr"});
  ExpectRefused(Check(plain.get(), {"www.example.fr"}, lookup, ProfileId::kWild),
                "accepts wildcard names only");
  EXPECT_TRUE(Check(wild.get(), {"*.example.fr"}, lookup, ProfileId::kWild));
}

TEST(CsrCheckTest, FermatWeakKeyRefused) {
  // p and q = the next prime after p: n = p·q factors at the first Fermat step.
  ossl::Bn p(BN_new()), q(BN_new());
  ossl::BnCtx ctx(BN_CTX_new());
  ASSERT_EQ(BN_generate_prime_ex(p.get(), 1536, 0, nullptr, nullptr, nullptr), 1);
  ASSERT_NE(BN_copy(q.get(), p.get()), nullptr);
  do {
    ASSERT_EQ(BN_add_word(q.get(), 2), 1);
  } while (BN_check_prime(q.get(), ctx.get(), nullptr) != 1);
  ossl::Pkey key = testing::RsaFromPrimes(p.get(), q.get());
  ASSERT_EQ(EVP_PKEY_get_bits(key.get()), 3072);
  Lookup lookup;
  auto csr = MakeCsr(key.get(), std::nullopt, {"www.example.fr"});
  ExpectRefused(Check(csr.get(), {"www.example.fr"}, lookup),
                "weak key: the modulus factors by Fermat");
}

TEST(CsrCheckTest, SmallFactorModulusRefused) {
  // n = 3·p·q with 1535-bit p, q: 3·p·q has 3071 or 3072 bits depending on p and q, so draw
  // until it is a 3072-bit modulus with the factor 3.
  ossl::Bn p(BN_new()), q(BN_new()), pq(BN_new()), n(BN_new()), d(BN_new()), lambda(BN_new());
  ossl::BnCtx ctx(BN_CTX_new());
  for (int attempt = 0; attempt < 64 && BN_num_bits(n.get()) != 3072; ++attempt) {
    ASSERT_EQ(BN_generate_prime_ex(p.get(), 1535, 0, nullptr, nullptr, nullptr), 1);
    ASSERT_EQ(BN_generate_prime_ex(q.get(), 1535, 0, nullptr, nullptr, nullptr), 1);
    ASSERT_EQ(BN_mul(pq.get(), p.get(), q.get(), ctx.get()), 1);
    ASSERT_NE(BN_copy(n.get(), pq.get()), nullptr);
    ASSERT_EQ(BN_mul_word(n.get(), 3), 1);
  }
  ASSERT_EQ(BN_num_bits(n.get()), 3072);
  // d = e^-1 mod (2·(p−1)·(q−1)), a multiple of λ(n): a working private exponent for signing.
  ossl::Bn p1(BN_dup(p.get())), q1(BN_dup(q.get())), e(BN_new());
  BN_sub_word(p1.get(), 1);
  BN_sub_word(q1.get(), 1);
  BN_mul(lambda.get(), p1.get(), q1.get(), ctx.get());
  BN_mul_word(lambda.get(), 2);
  BN_set_word(e.get(), 65537);
  ASSERT_NE(BN_mod_inverse(d.get(), e.get(), lambda.get(), ctx.get()), nullptr);
  ossl::Pkey key = testing::RsaFromNed(n.get(), d.get());
  Lookup lookup;
  auto csr = MakeCsr(key.get(), std::nullopt, {"www.example.fr"});
  ExpectRefused(Check(csr.get(), {"www.example.fr"}, lookup),
                "weak key: the modulus is divisible by the small prime 3");
}

}  // namespace
}  // namespace ca::profiles::issuance
