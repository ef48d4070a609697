#include "pki/crl_builder.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "common/encoding.h"
#include "pki/lint.h"
#include "pki/testing/build_test_ca.h"

namespace ca::pki {
namespace {

using namespace std::chrono_literals;

Time FromAsn1(const ASN1_TIME* t) {
  struct tm tm {};
  EXPECT_EQ(ASN1_TIME_to_tm(t, &tm), 1);
  return Time(std::chrono::seconds(timegm(&tm)));
}

Serial Hex(std::string_view h) {
  return Serial{*HexDecode(h)};  // as given: a test may build a non-canonical serial on purpose
}

RevocationReason R(int code) {
  return static_cast<RevocationReason>(code);  // unchecked on purpose: the builder must refuse 6
}

TEST(CrlBuilder, SignedCrlHasProfileFieldsAndReasons) {
  const auto& ca = testing::GetTestCa();
  Time now = ca.now;
  std::vector<CrlEntry> entries{
      {Hex("03"), now - 10h, R(1), now - 20h},
      {Hex("01"), now - 5h, R(0), std::nullopt},
      {Hex("ff02"), now - 1h, R(4), std::nullopt},
  };
  auto der =
      BuildCrl({ca.intermediate.get(), ca.intermediate_key.get(), 42, now, now + 168h, entries});
  ASSERT_TRUE(der) << der.error().ToString();
  auto crl = ossl::CrlFromDer(*der);
  ASSERT_TRUE(crl);
  X509_CRL* c = crl->get();
  EXPECT_EQ(X509_CRL_verify(c, X509_get0_pubkey(ca.intermediate.get())), 1);
  EXPECT_EQ(X509_CRL_get_version(c), X509_CRL_VERSION_2);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(c), X509_get_subject_name(ca.intermediate.get())), 0);
  EXPECT_EQ(X509_CRL_get_signature_nid(c), NID_sha256WithRSAEncryption);
  EXPECT_EQ(FromAsn1(X509_CRL_get0_lastUpdate(c)), now);
  EXPECT_EQ(FromAsn1(X509_CRL_get0_nextUpdate(c)), now + 168h);
  EXPECT_EQ(ASN1_STRING_type(X509_CRL_get0_lastUpdate(c)), V_ASN1_UTCTIME);

  ossl::Asn1Integer number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(c, NID_crl_number, nullptr, nullptr)));
  ASSERT_TRUE(number);
  EXPECT_EQ(ASN1_INTEGER_get(number.get()), 42);
  AUTHORITY_KEYID* akid = static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(c, NID_authority_key_identifier, nullptr, nullptr));
  ASSERT_NE(akid, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(ca.intermediate.get())), 0);
  AUTHORITY_KEYID_free(akid);

  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(c);
  ASSERT_EQ(sk_X509_REVOKED_num(revoked), 3);
  auto serial_of = [&](int i) {
    const ASN1_INTEGER* s = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i));
    return HexEncode(
        std::span(ASN1_STRING_get0_data(s), static_cast<size_t>(ASN1_STRING_length(s))));
  };
  auto reason_of = [&](int i) -> int {
    ASN1_ENUMERATED* e = static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(
        sk_X509_REVOKED_value(revoked, i), NID_crl_reason, nullptr, nullptr));
    if (e == nullptr) return -1;
    int v = static_cast<int>(ASN1_ENUMERATED_get(e));
    ASN1_ENUMERATED_free(e);
    return v;
  };
  EXPECT_EQ(serial_of(0), "01");  // sorted by serial
  EXPECT_EQ(serial_of(1), "03");
  EXPECT_EQ(serial_of(2), "ff02");
  EXPECT_EQ(reason_of(0), -1);  // unspecified: no reasonCode entry extension
  EXPECT_EQ(reason_of(1), 1);
  EXPECT_EQ(reason_of(2), 4);
  EXPECT_EQ(FromAsn1(X509_REVOKED_get0_revocationDate(sk_X509_REVOKED_value(revoked, 1))),
            now - 10h);
  ASN1_GENERALIZEDTIME* inv = static_cast<ASN1_GENERALIZEDTIME*>(X509_REVOKED_get_ext_d2i(
      sk_X509_REVOKED_value(revoked, 1), NID_invalidity_date, nullptr, nullptr));
  ASSERT_NE(inv, nullptr);
  EXPECT_EQ(FromAsn1(inv), now - 20h);
  ASN1_GENERALIZEDTIME_free(inv);
  EXPECT_EQ(X509_REVOKED_get_ext_by_NID(sk_X509_REVOKED_value(revoked, 0), NID_invalidity_date, -1),
            -1);

  // The same bytes as OpenSSL's own encoder would produce for the parsed CRL.
  EXPECT_EQ(*ossl::CrlToDer(c), *der);
  auto pem = CrlDerToPem(*der);
  ASSERT_TRUE(pem);
  EXPECT_TRUE(pem->starts_with("-----BEGIN X509 CRL-----"));
}

TEST(CrlBuilder, EcIssuerDigestAndEmptyCrl) {
  const auto& ca = testing::GetTestCa();
  Time now = ca.now;
  auto der = BuildCrl({ca.root.get(), ca.root_key.get(), 1, now, now + 24h, {}});
  ASSERT_TRUE(der);
  auto crl = ossl::CrlFromDer(*der);
  EXPECT_EQ(X509_CRL_get_signature_nid(crl->get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(X509_CRL_verify(crl->get(), X509_get0_pubkey(ca.root.get())), 1);
  EXPECT_EQ(X509_CRL_get_REVOKED(crl->get()), nullptr);  // empty: revokedCertificates omitted

  std::vector<CrlEntry> one{{Hex("0abc"), now - 1h, R(1), std::nullopt}};
  auto sha384 = BuildCrl(
      {ca.root.get(), ca.root_key.get(), 2, now, now + 24h, one, DigestForKey(ca.root_key.get())});
  ASSERT_TRUE(sha384) << sha384.error().message;
  auto parsed = ossl::CrlFromDer(*sha384);
  EXPECT_EQ(X509_CRL_get_signature_nid(parsed->get()), NID_ecdsa_with_SHA384);
  EXPECT_EQ(X509_CRL_verify(parsed->get(), X509_get0_pubkey(ca.root.get())), 1);
}

// A shard: critical IDP, fullName = the shard's URL, onlyContainsUserCerts; openssl's own parser
// (X509_CRL's idp_flags) agrees. The full CRL has none.
TEST(CrlBuilder, ShardCarriesCriticalIssuingDistributionPoint) {
  const auto& ca = testing::GetTestCa();
  Time now = ca.now;
  std::vector<CrlEntry> entries{{Hex("0a"), now - 1h, R(1), std::nullopt}};
  CrlRequest request{ca.intermediate.get(), ca.intermediate_key.get(), 7, now, now + 24h, entries};
  request.distribution_point = "http://crl.example.test/crl/int/3.crl";
  auto der = BuildCrl(request);
  ASSERT_TRUE(der) << der.error().ToString();
  auto crl = ossl::CrlFromDer(*der);
  ASSERT_TRUE(crl);
  EXPECT_EQ(X509_CRL_verify(crl->get(), X509_get0_pubkey(ca.intermediate.get())), 1);
  auto idp = ReadIssuingDistributionPoint(crl->get());
  ASSERT_TRUE(idp) << idp.error().ToString();
  ASSERT_TRUE(idp->has_value());
  EXPECT_EQ((*idp)->url, "http://crl.example.test/crl/int/3.crl");
  EXPECT_TRUE((*idp)->critical);
  EXPECT_TRUE((*idp)->only_user_certs);
  EXPECT_FALSE((*idp)->other_fields);
  int index = X509_CRL_get_ext_by_NID(crl->get(), NID_issuing_distribution_point, -1);
  ASSERT_GE(index, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_CRL_get_ext(crl->get(), index)), 1);
  // onlyContainsUserCerts is DER TRUE (0xFF): the extension value ends with [1] 01 FF.
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(X509_CRL_get_ext(crl->get(), index));
  std::span<const uint8_t> v(ASN1_STRING_get0_data(value), static_cast<size_t>(ASN1_STRING_length(value)));
  ASSERT_GE(v.size(), 3u);
  EXPECT_EQ(HexEncode(v.subspan(v.size() - 3)), "8101ff");
  EXPECT_TRUE(LintCrl(crl->get(), ca.intermediate.get()).empty());

  request.distribution_point.clear();
  auto full = BuildCrl(request);
  ASSERT_TRUE(full);
  auto full_crl = ossl::CrlFromDer(*full);
  auto none = ReadIssuingDistributionPoint(full_crl->get());
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

TEST(CrlBuilder, RefusesBadInput) {
  const auto& ca = testing::GetTestCa();
  Time now = ca.now;
  X509* issuer = ca.root.get();
  EVP_PKEY* key = ca.root_key.get();
  std::vector<CrlEntry> dup{{Hex("05"), now, R(0), std::nullopt}, {Hex("05"), now, R(4), std::nullopt}};
  auto r = BuildCrl({issuer, key, 1, now, now + 24h, dup});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "serial 05 listed twice in the CRL");
  EXPECT_FALSE(BuildCrl({issuer, key, 0, now, now + 24h, {}}));
  EXPECT_FALSE(BuildCrl({issuer, key, 1, now, now, {}}));
  std::vector<CrlEntry> hold{{Hex("05"), now, R(6), std::nullopt}};
  auto h = BuildCrl({issuer, key, 1, now, now + 24h, hold});
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().message.find("refused CRLReason code 6"), std::string::npos);
  std::vector<CrlEntry> padded{{Hex("0005"), now, R(0), std::nullopt}};
  EXPECT_FALSE(BuildCrl({issuer, key, 1, now, now + 24h, padded}));
  auto wrong_key = testing::MakeEcKey("P-384");
  auto w = BuildCrl({issuer, wrong_key.get(), 1, now, now + 24h, {}});
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().message, "CRL signature does not verify under the issuer key (wrong key?)");
}

}  // namespace
}  // namespace ca::pki
