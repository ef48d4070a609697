#include "pki/csr.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "pki/testing/make_csr.h"

namespace ca::pki {
namespace {

using testing::CsrShape;

const EVP_PKEY* EcKey() { return testing::TestEcKey(); }

Bytes CsrDer(const CsrShape& shape, const EVP_PKEY* key = EcKey()) {
  auto der = testing::MakeCsrDer(shape, key);
  EXPECT_TRUE(der) << der.error().message;
  return der ? *der : Bytes();
}

void ExpectRefused(const Status& status, std::string_view needle) {
  ASSERT_FALSE(status) << "accepted, expected: " << needle;
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(status.error().message.find(needle), std::string::npos) << status.error().message;
  EXPECT_TRUE(status.error().message.starts_with("CSR refused: ")) << status.error().message;
}

Status ReadOnly(const Bytes& der) {
  auto csr = ReadCsr(der);
  if (!csr) return std::unexpected(csr.error());
  return Ok();
}

Status ReadAndCheck(const CsrShape& shape, std::vector<std::string> order) {
  auto csr = ReadCsr(CsrDer(shape));
  if (!csr) return std::unexpected(csr.error());
  return CheckCsrNames(*csr, order);
}

TEST(CsrTest, ReadsNamesAndKeyFacts) {
  auto csr = ReadCsr(CsrDer(
      {{"WWW.Example.fr"}, std::vector<std::string>{"DNS:www.example.fr", "DNS:Example.FR"}}));
  ASSERT_TRUE(csr) << csr.error().message;
  EXPECT_TRUE(csr->has_san);
  EXPECT_EQ(csr->san_dns_names, (std::vector<std::string>{"www.example.fr", "example.fr"}));
  EXPECT_EQ(csr->common_names, (std::vector<std::string>{"www.example.fr"}));
  EXPECT_EQ(csr->key.type, "EC");
  EXPECT_EQ(csr->key.bits, 256);
  EXPECT_EQ(csr->key.curve, "prime256v1");
  EXPECT_EQ(csr->key.spki_der, *ossl::PublicKeyToDer(EcKey()));
  EXPECT_EQ(csr->key.spki_sha256, Sha256(csr->key.spki_der));
  EXPECT_EQ(EVP_PKEY_eq(csr->public_key.get(), EcKey()), 1);
  EXPECT_TRUE(CheckCsrNames(*csr, std::vector<std::string>{"example.fr", "WWW.example.fr"}));
}

TEST(CsrTest, RsaKeyFacts) {
  ossl::Pkey rsa(EVP_RSA_gen(2048));
  auto csr = ReadCsr(CsrDer({{}, std::vector<std::string>{"DNS:a.example.fr"}}, rsa.get()));
  ASSERT_TRUE(csr);
  EXPECT_EQ(csr->key.type, "RSA");
  EXPECT_EQ(csr->key.bits, 2048);
  EXPECT_EQ(csr->key.curve, "");
}

TEST(CsrTest, CnOnlyCsrNamesItsCn) {
  auto csr = ReadCsr(CsrDer({{"a.example.fr"}, std::nullopt}));
  ASSERT_TRUE(csr);
  EXPECT_FALSE(csr->has_san);
  EXPECT_EQ(*CsrNames(*csr), (std::vector<std::string>{"a.example.fr"}));
}

TEST(CsrTest, ReadsAParsedRequest) {
  Bytes der = CsrDer({{}, std::vector<std::string>{"DNS:a.example.fr"}});
  auto parsed = ossl::CsrFromDer(der);
  ASSERT_TRUE(parsed);
  auto csr = ReadCsr(parsed->get());
  ASSERT_TRUE(csr);
  EXPECT_EQ(csr->san_dns_names, (std::vector<std::string>{"a.example.fr"}));
  EXPECT_FALSE(ReadCsr(static_cast<const X509_REQ*>(nullptr)));
}

TEST(CsrTest, RefusesEveryBadShape) {
  const std::vector<std::string> order{"a.example.fr"};
  ExpectRefused(ReadAndCheck({{"a.example.fr", "b.example.fr"},
                              std::vector<std::string>{"DNS:a.example.fr", "DNS:b.example.fr"}},
                             {"a.example.fr", "b.example.fr"}),
                "the subject has more than one CN");
  ExpectRefused(
      ReadAndCheck({{"other.example.fr"}, std::vector<std::string>{"DNS:a.example.fr"}}, order),
      "the subject CN 'other.example.fr' is not among the subjectAltName names");
  ExpectRefused(
      ReadAndCheck({{}, std::vector<std::string>{"DNS:a.example.fr."}}, {"a.example.fr."}),
      "the name 'a.example.fr.' ends with a dot");
  ExpectRefused(ReadAndCheck({{"a.example.fr."}, std::nullopt}, {"a.example.fr."}),
                "the name 'a.example.fr.' ends with a dot");
  ExpectRefused(ReadAndCheck({{}, std::nullopt}, order), "no names");
  ExpectRefused(
      ReadAndCheck({{}, std::vector<std::string>{"DNS:a.example.fr", "IP:192.0.2.1"}}, order),
      "not a dNSName");
  ExpectRefused(ReadAndCheck({{}, std::vector<std::string>{"DNS:a.example.fr"}, true}, order),
                "more than one subjectAltName extension");
  ExpectRefused(
      ReadAndCheck({{}, std::vector<std::string>{"DNS:a.example.fr", "DNS:evil.example.com"}},
                   {"a.example.fr", "b.example.fr"}),
      "the names differ from the order's; missing: b.example.fr; not in the order: "
      "evil.example.com");
}

TEST(CsrTest, RefusesUndecodableAndBadlySigned) {
  ExpectRefused(ReadOnly(Bytes{0x30, 0x03, 0x02, 0x01, 0x01}), "not a DER PKCS#10 request");
  Bytes der = CsrDer({{}, std::vector<std::string>{"DNS:a.example.fr"}});
  der[der.size() - 5] ^= 0x01;  // inside the signature value
  ExpectRefused(ReadOnly(der), "the signature does not verify");
}

}  // namespace
}  // namespace ca::pki
