#include "crl_ocsp/ocsp_response.h"

#include <gtest/gtest.h>

#include "crl_ocsp/testing/test_pki.h"

namespace ca::crl_ocsp {
namespace {

using namespace std::chrono_literals;

struct Parsed {
  ossl::OcspResponse resp;
  ossl::OcspBasicResp basic;
};

Parsed Parse(const Bytes& der) {
  const unsigned char* p = der.data();
  Parsed out{ossl::OcspResponse(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size()))),
             nullptr};
  if (out.resp) out.basic.reset(OCSP_response_get1_basic(out.resp.get()));
  return out;
}

// What a relying party does: chain the responder to the root, check delegation.
int Verify(OCSP_BASICRESP* basic, const testing::Pki& pki) {
  ossl::X509Store store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), pki.root.get());
  STACK_OF(X509)* extra = sk_X509_new_null();
  sk_X509_push(extra, pki.ca.get());
  int rc = OCSP_basic_verify(basic, extra, store.get(), 0);
  sk_X509_free(extra);
  return rc;
}

OcspCertState State(CertStatus status,
                    pki::RevocationReason reason = pki::RevocationReason::kUnspecified) {
  Time now = pki::Now();
  return OcspCertState{
      *pki::Serial::FromHex("0a1b2c3d4e5f"), status, now - 1h, reason, now, now + 96h};
}

TEST(OcspResponse, GoodResponseVerifiesWithBothCertIdForms) {
  auto pki = testing::MakePki();
  auto der = BuildOcspResponse(pki.ca.get(), {pki.ocsp_key.get(), pki.ocsp.get()},
                               State(CertStatus::kGood));
  ASSERT_TRUE(der) << der.error().ToString();
  Parsed p = Parse(*der);
  ASSERT_TRUE(p.basic);
  EXPECT_EQ(Verify(p.basic.get(), pki), 1) << ossl::DrainErrors();
  ASSERT_EQ(OCSP_resp_count(p.basic.get()), 2);
  for (const EVP_MD* md : {EVP_sha1(), EVP_sha256()}) {
    ossl::Asn1Integer serial = *pki::Serial::FromHex("0a1b2c3d4e5f")->ToAsn1();
    ossl::OcspCertId id(OCSP_cert_id_new(md, X509_get_subject_name(pki.ca.get()),
                                         X509_get0_pubkey_bitstr(pki.ca.get()), serial.get()));
    int status = -1, reason = -1;
    ASN1_GENERALIZEDTIME *rev = nullptr, *thisupd = nullptr, *nextupd = nullptr;
    ASSERT_EQ(
        OCSP_resp_find_status(p.basic.get(), id.get(), &status, &reason, &rev, &thisupd, &nextupd),
        1);
    EXPECT_EQ(status, V_OCSP_CERTSTATUS_GOOD);
    EXPECT_NE(nextupd, nullptr);
    EXPECT_EQ(OCSP_check_validity(thisupd, nextupd, 300, -1), 1);
  }
  // responderID byKey, signer certificate included, no nonce.
  const ASN1_OCTET_STRING* key_id = nullptr;
  const X509_NAME* name = nullptr;
  ASSERT_EQ(OCSP_resp_get0_id(p.basic.get(), &key_id, &name), 1);
  EXPECT_NE(key_id, nullptr);
  EXPECT_EQ(name, nullptr);
  ASSERT_EQ(sk_X509_num(OCSP_resp_get0_certs(p.basic.get())), 1);
  EXPECT_EQ(X509_cmp(sk_X509_value(OCSP_resp_get0_certs(p.basic.get()), 0), pki.ocsp.get()), 0);
  EXPECT_LT(OCSP_BASICRESP_get_ext_by_NID(p.basic.get(), NID_id_pkix_OCSP_Nonce, -1), 0);
  EXPECT_EQ(OBJ_obj2nid(OCSP_resp_get0_tbs_sigalg(p.basic.get())->algorithm),
            NID_ecdsa_with_SHA256);

  auto info = InspectOcspResponse(*der, pki.ca.get());
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->serial.Hex(), "0a1b2c3d4e5f");
  EXPECT_EQ(info->status, CertStatus::kGood);
  EXPECT_EQ(info->cert_id_hashes.size(), 2u);
}

TEST(OcspResponse, RevokedCarriesReasonExceptUnspecified) {
  auto pki = testing::MakePki();
  OcspSigner signer{pki.ocsp_key.get(), pki.ocsp.get()};
  for (auto [reason, expected] :
       {std::pair{pki::RevocationReason::kKeyCompromise, OCSP_REVOKED_STATUS_KEYCOMPROMISE},
        std::pair{pki::RevocationReason::kUnspecified, OCSP_REVOKED_STATUS_NOSTATUS}}) {
    OcspCertState st = State(CertStatus::kRevoked, reason);
    auto der = BuildOcspResponse(pki.ca.get(), signer, st, {{CertIdHash::kSha1}});
    ASSERT_TRUE(der) << der.error().ToString();
    Parsed p = Parse(*der);
    ASSERT_EQ(OCSP_resp_count(p.basic.get()), 1);
    int r = -2;
    ASN1_GENERALIZEDTIME *rev = nullptr, *tu = nullptr, *nu = nullptr;
    EXPECT_EQ(OCSP_single_get0_status(OCSP_resp_get0(p.basic.get(), 0), &r, &rev, &tu, &nu),
              V_OCSP_CERTSTATUS_REVOKED);
    EXPECT_EQ(r, expected);
    EXPECT_EQ(*pki::FromAsn1Time(rev), st.revocation_time);
    auto info = InspectOcspResponse(*der, pki.ca.get());
    ASSERT_TRUE(info);
    EXPECT_EQ(info->reason, reason);
  }
}

TEST(OcspResponse, RsaSignerUsesSha256WithRsa) {
  auto pki = testing::MakePki(true);
  auto rsa_key = testing::MakeRsaKey(2048);
  auto signer = testing::MakeCert({"RSA OCSP", false, true, 9, 30}, rsa_key.get(), pki.ca.get(),
                                  pki.ca_key.get());
  auto der =
      BuildOcspResponse(pki.ca.get(), {rsa_key.get(), signer.get()}, State(CertStatus::kGood));
  ASSERT_TRUE(der) << der.error().ToString();
  Parsed p = Parse(*der);
  EXPECT_EQ(OBJ_obj2nid(OCSP_resp_get0_tbs_sigalg(p.basic.get())->algorithm),
            NID_sha256WithRSAEncryption);
  EXPECT_TRUE(InspectOcspResponse(*der, pki.ca.get()));
}

TEST(OcspResponse, RefusesBadSignersAndTimes) {
  auto pki = testing::MakePki();
  auto other = testing::MakePki();
  auto no_eku = testing::MakeCert({"No EKU", false, false, 7, 30}, pki.ocsp_key.get(), pki.ca.get(),
                                  pki.ca_key.get());
  auto r1 = BuildOcspResponse(pki.ca.get(), {other.ocsp_key.get(), other.ocsp.get()},
                              State(CertStatus::kGood));
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().message, "OCSP signer certificate is not issued by the certificate issuer");
  auto r2 =
      BuildOcspResponse(pki.ca.get(), {pki.ocsp_key.get(), no_eku.get()}, State(CertStatus::kGood));
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().message, "OCSP signer certificate lacks id-kp-OCSPSigning");
  auto r3 = BuildOcspResponse(pki.ca.get(), {other.ocsp_key.get(), pki.ocsp.get()},
                              State(CertStatus::kGood));
  ASSERT_FALSE(r3);  // key does not match the certificate
  EXPECT_EQ(r3.error().code, ErrorCode::kCrypto);
  OcspCertState st = State(CertStatus::kGood);
  st.next_update = st.this_update;
  EXPECT_FALSE(BuildOcspResponse(pki.ca.get(), {pki.ocsp_key.get(), pki.ocsp.get()}, st));
  // A response from another CA does not pass the store's check.
  auto foreign = BuildOcspResponse(other.ca.get(), {other.ocsp_key.get(), other.ocsp.get()},
                                   State(CertStatus::kGood));
  ASSERT_TRUE(foreign);
  EXPECT_FALSE(InspectOcspResponse(*foreign, pki.ca.get()));
}

// An inspector and a "good" response of the PKI's delegated responder (not inspected yet).
struct InspectorSetup {
  testing::Pki pki = testing::MakePki();
  Result<OcspResponseInspector> inspector = OcspResponseInspector::For(pki.ca.get());
  Result<Bytes> good = BuildOcspResponse(pki.ca.get(), {pki.ocsp_key.get(), pki.ocsp.get()},
                                         State(CertStatus::kGood));
};

TEST(OcspResponse, InspectorTrustsAResponderOnceAndStillChecksEverySignature) {
  InspectorSetup setup;
  ASSERT_TRUE(setup.inspector && setup.good);
  auto& inspector = setup.inspector;
  auto& good = setup.good;
  ASSERT_TRUE(inspector->Inspect(*good));  // responder verified against the issuer
  auto again = inspector->Inspect(*good);  // known responder: signature only
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(again->serial.Hex(), "0a1b2c3d4e5f");

  // The known responder's certificate, a damaged response signature: refused.
  Parsed p = Parse(*good);
  ASSERT_TRUE(p.basic);
  const ASN1_OCTET_STRING* sig = OCSP_resp_get0_signature(p.basic.get());
  auto* bytes = const_cast<unsigned char*>(ASN1_STRING_get0_data(sig));
  bytes[ASN1_STRING_length(sig) / 2] ^= 0x01;
  ossl::OcspResponse damaged(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, p.basic.get()));
  ASSERT_TRUE(damaged);
  unsigned char* out = nullptr;
  int len = i2d_OCSP_RESPONSE(damaged.get(), &out);
  ASSERT_GT(len, 0);
  Bytes damaged_der(out, out + len);
  OPENSSL_free(out);
  auto r = inspector->Inspect(damaged_der);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCrypto);

  // Another CA's response (unknown responder): the full check refuses it.
  auto other = testing::MakePki();
  auto foreign = BuildOcspResponse(other.ca.get(), {other.ocsp_key.get(), other.ocsp.get()},
                                   State(CertStatus::kGood));
  ASSERT_TRUE(foreign);
  EXPECT_FALSE(inspector->Inspect(*foreign));
  EXPECT_TRUE(inspector->Inspect(*good));
}

// Once a responder is known the embedded certificates are parsed without their keys: a renewed
// responder certificate (other bytes, other key) and the issuer answering for itself still get the
// full check, with the key decoded from the response, and then join the known responders.
TEST(OcspResponse, InspectorChecksEveryNewResponderInFull) {
  InspectorSetup setup;
  ASSERT_TRUE(setup.inspector && setup.good);
  auto& [pki, inspector, good] = setup;
  ASSERT_TRUE(inspector->Inspect(*good));

  ossl::Pkey renewed_key = testing::MakeEcKey();
  ossl::X509Ptr renewed = testing::MakeCert({"Renewed OCSP signer", false, true, 77, 30},
                                            renewed_key.get(), pki.ca.get(), pki.ca_key.get());
  auto by_renewed =
      BuildOcspResponse(pki.ca.get(), {renewed_key.get(), renewed.get()},
                        State(CertStatus::kRevoked, pki::RevocationReason::kKeyCompromise));
  ASSERT_TRUE(by_renewed);
  auto info = inspector->Inspect(*by_renewed);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->status, CertStatus::kRevoked);
  EXPECT_EQ(info->reason, pki::RevocationReason::kKeyCompromise);
  ASSERT_TRUE(inspector->Inspect(*by_renewed));  // now known
  ASSERT_TRUE(inspector->Inspect(*good));        // the first one still known

  auto by_issuer =
      BuildOcspResponse(pki.ca.get(), {pki.ca_key.get(), pki.ca.get()}, State(CertStatus::kGood));
  ASSERT_TRUE(by_issuer);
  auto self = inspector->Inspect(*by_issuer);
  ASSERT_TRUE(self) << self.error().ToString();
  EXPECT_EQ(self->serial.Hex(), "0a1b2c3d4e5f");

  // A response of another issuer (its own responder), once responders are known: refused, twice
  // (nothing of it was remembered).
  ossl::Pkey rogue_key = testing::MakeEcKey();
  ossl::X509Ptr rogue = testing::MakeCert({"Rogue OCSP signer", false, true, 78, 30},
                                          rogue_key.get(), pki.root.get(), pki.root_key.get());
  auto by_rogue =
      BuildOcspResponse(pki.root.get(), {rogue_key.get(), rogue.get()}, State(CertStatus::kGood));
  ASSERT_TRUE(by_rogue);
  EXPECT_FALSE(inspector->Inspect(*by_rogue));
  EXPECT_FALSE(inspector->Inspect(*by_rogue));
}

TEST(OcspResponse, ErrorResponsesAreUnsigned) {
  for (auto e : {OcspError::kMalformedRequest, OcspError::kTryLater, OcspError::kUnauthorized}) {
    auto der = OcspErrorResponse(e);
    ASSERT_TRUE(der);
    Parsed p = Parse(*der);
    ASSERT_TRUE(p.resp);
    EXPECT_EQ(OCSP_response_status(p.resp.get()), static_cast<int>(e));
    EXPECT_FALSE(p.basic);
  }
  EXPECT_EQ(OcspErrorName(OcspError::kUnauthorized), "unauthorized");
}

}  // namespace
}  // namespace ca::crl_ocsp
