#include "crl_ocsp/crl_builder.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "crl_ocsp/testing/test_pki.h"

namespace ca::status {
namespace {

using namespace std::chrono_literals;

TEST(CrlBuilder, SignedCrlHasProfileFieldsAndReasons) {
  auto pki = testing::MakePki(true);
  Time now = Now();
  std::vector<CrlEntry> entries{
      {*Serial::FromHex("03"), now - 10h, RevocationReason::kKeyCompromise, now - 20h},
      {*Serial::FromHex("01"), now - 5h, RevocationReason::kUnspecified, std::nullopt},
      {*Serial::FromHex("ff02"), now - 1h, RevocationReason::kSuperseded, std::nullopt},
  };
  auto der = BuildCrl({pki.ca.get(), pki.ca_key.get(), 42, now, now + 168h, entries});
  ASSERT_TRUE(der) << der.error().ToString();
  auto crl = ossl::CrlFromDer(*der);
  ASSERT_TRUE(crl);
  X509_CRL* c = crl->get();
  EXPECT_EQ(X509_CRL_verify(c, X509_get0_pubkey(pki.ca.get())), 1);
  EXPECT_EQ(X509_CRL_get_version(c), X509_CRL_VERSION_2);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(c), X509_get_subject_name(pki.ca.get())), 0);
  EXPECT_EQ(X509_CRL_get_signature_nid(c), NID_sha256WithRSAEncryption);
  EXPECT_EQ(*FromAsn1Time(X509_CRL_get0_lastUpdate(c)), now);
  EXPECT_EQ(*FromAsn1Time(X509_CRL_get0_nextUpdate(c)), now + 168h);
  EXPECT_EQ(ASN1_STRING_type(X509_CRL_get0_lastUpdate(c)), V_ASN1_UTCTIME);

  ossl::Asn1Integer number(static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(c, NID_crl_number, nullptr, nullptr)));
  ASSERT_TRUE(number);
  EXPECT_EQ(ASN1_INTEGER_get(number.get()), 42);
  AUTHORITY_KEYID* akid = static_cast<AUTHORITY_KEYID*>(X509_CRL_get_ext_d2i(c, NID_authority_key_identifier, nullptr, nullptr));
  ASSERT_NE(akid, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(pki.ca.get())), 0);
  AUTHORITY_KEYID_free(akid);

  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(c);
  ASSERT_EQ(sk_X509_REVOKED_num(revoked), 3);
  auto serial_of = [&](int i) { return Serial::FromAsn1(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i)))->Hex(); };
  auto reason_of = [&](int i) -> int {
    ASN1_ENUMERATED* e = static_cast<ASN1_ENUMERATED*>(
        X509_REVOKED_get_ext_d2i(sk_X509_REVOKED_value(revoked, i), NID_crl_reason, nullptr, nullptr));
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
  EXPECT_EQ(*FromAsn1Time(X509_REVOKED_get0_revocationDate(sk_X509_REVOKED_value(revoked, 1))), now - 10h);
  ASN1_GENERALIZEDTIME* inv = static_cast<ASN1_GENERALIZEDTIME*>(
      X509_REVOKED_get_ext_d2i(sk_X509_REVOKED_value(revoked, 1), NID_invalidity_date, nullptr, nullptr));
  ASSERT_NE(inv, nullptr);
  EXPECT_EQ(*FromAsn1Time(inv), now - 20h);
  ASN1_GENERALIZEDTIME_free(inv);
  EXPECT_EQ(X509_REVOKED_get_ext_by_NID(sk_X509_REVOKED_value(revoked, 0), NID_invalidity_date, -1), -1);
}

TEST(CrlBuilder, EcIssuerAndEmptyCrl) {
  auto pki = testing::MakePki(false);
  Time now = Now();
  auto der = BuildCrl({pki.ca.get(), pki.ca_key.get(), 1, now, now + 24h, {}});
  ASSERT_TRUE(der);
  auto crl = ossl::CrlFromDer(*der);
  EXPECT_EQ(X509_CRL_get_signature_nid(crl->get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(X509_CRL_verify(crl->get(), X509_get0_pubkey(pki.ca.get())), 1);
  EXPECT_EQ(X509_CRL_get_REVOKED(crl->get()), nullptr);  // empty: revokedCertificates omitted
}

TEST(CrlBuilder, RefusesBadInput) {
  auto pki = testing::MakePki(false);
  Time now = Now();
  std::vector<CrlEntry> dup{{*Serial::FromHex("05"), now, RevocationReason::kUnspecified, std::nullopt},
                            {*Serial::FromHex("05"), now, RevocationReason::kSuperseded, std::nullopt}};
  auto r = BuildCrl({pki.ca.get(), pki.ca_key.get(), 1, now, now + 24h, dup});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "serial 05 listed twice in the CRL");
  EXPECT_FALSE(BuildCrl({pki.ca.get(), pki.ca_key.get(), 0, now, now + 24h, {}}));
  EXPECT_FALSE(BuildCrl({pki.ca.get(), pki.ca_key.get(), 1, now, now, {}}));
  std::vector<CrlEntry> hold{{*Serial::FromHex("05"), now, static_cast<RevocationReason>(6), std::nullopt}};
  auto h = BuildCrl({pki.ca.get(), pki.ca_key.get(), 1, now, now + 24h, hold});
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().message.find("refused CRLReason code 6"), std::string::npos);
  EXPECT_FALSE(ParseReason("certificateHold"));
  auto wrong_key = testing::MakeEcKey();
  auto w = BuildCrl({pki.ca.get(), wrong_key.get(), 1, now, now + 24h, {}});
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().message, "CRL signature does not verify under the issuer key (wrong key?)");
  EXPECT_EQ(*ParseReason("keyCompromise"), RevocationReason::kKeyCompromise);
}

}  // namespace
}  // namespace ca::status
