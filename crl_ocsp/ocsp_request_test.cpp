#include "crl_ocsp/ocsp_request.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "crl_ocsp/testing/test_pki.h"

namespace ca::crl_ocsp {
namespace {

class OcspRequestTest : public ::testing::Test {
 protected:
  testing::Pki pki = testing::MakePki();

  ossl::OcspCertId Id(const EVP_MD* md, long serial, X509* issuer = nullptr) {
    ossl::Asn1Integer s(ASN1_INTEGER_new());
    ASN1_INTEGER_set(s.get(), serial);
    X509* iss = issuer ? issuer : pki.ca.get();
    return ossl::OcspCertId(
        OCSP_cert_id_new(md, X509_get_subject_name(iss), X509_get0_pubkey_bitstr(iss), s.get()));
  }
  Bytes Encode(OCSP_REQUEST* req) {
    int len = i2d_OCSP_REQUEST(req, nullptr);
    Bytes out(static_cast<size_t>(len));
    unsigned char* p = out.data();
    i2d_OCSP_REQUEST(req, &p);
    return out;
  }
  Bytes Request(std::vector<ossl::OcspCertId> ids, bool nonce = false) {
    ossl::OcspRequest req(OCSP_REQUEST_new());
    for (auto& id : ids) OCSP_request_add0_id(req.get(), id.release());
    if (nonce) OCSP_request_add1_nonce(req.get(), nullptr, 32);
    return Encode(req.get());
  }
};

TEST_F(OcspRequestTest, Sha1AndSha256CertIds) {
  for (auto [md, hash, len] : {std::tuple{EVP_sha1(), CertIdHash::kSha1, 20u},
                               std::tuple{EVP_sha256(), CertIdHash::kSha256, 32u}}) {
    std::vector<ossl::OcspCertId> ids;
    ids.push_back(Id(md, 0x1234));
    auto parsed = ParseOcspRequest(Request(std::move(ids)));
    ASSERT_FALSE(parsed.error) << parsed.problem;
    EXPECT_EQ(parsed.query.hash, hash);
    EXPECT_EQ(parsed.query.hash_len, len);
    auto expected = *ComputeIssuerHashes(pki.ca.get(), hash);
    EXPECT_EQ(Bytes(parsed.query.KeyHash().begin(), parsed.query.KeyHash().end()),
              expected.key_hash);
    EXPECT_EQ(Bytes(parsed.query.NameHash().begin(), parsed.query.NameHash().end()),
              expected.name_hash);
    EXPECT_EQ(HexEncode(parsed.query.Serial()), "1234");
    EXPECT_FALSE(parsed.query.has_nonce);
  }
}

TEST_F(OcspRequestTest, WrongIssuerHashesParseButNameAnotherIssuer) {
  auto other = testing::MakePki();
  std::vector<ossl::OcspCertId> ids;
  ids.push_back(Id(EVP_sha1(), 7, other.ca.get()));
  auto parsed = ParseOcspRequest(Request(std::move(ids)));
  ASSERT_FALSE(parsed.error);
  auto ours = *ComputeIssuerHashes(pki.ca.get(), CertIdHash::kSha1);
  EXPECT_NE(Bytes(parsed.query.KeyHash().begin(), parsed.query.KeyHash().end()), ours.key_hash);
}

TEST_F(OcspRequestTest, NonceIsAcceptedAndNoted) {
  std::vector<ossl::OcspCertId> ids;
  ids.push_back(Id(EVP_sha1(), 5));
  auto parsed = ParseOcspRequest(Request(std::move(ids), true));
  ASSERT_FALSE(parsed.error);
  EXPECT_TRUE(parsed.query.has_nonce);
}

TEST_F(OcspRequestTest, UnknownHashAlgorithmIsUnauthorized) {
  std::vector<ossl::OcspCertId> ids;
  ids.push_back(Id(EVP_sha384(), 5));
  auto parsed = ParseOcspRequest(Request(std::move(ids)));
  ASSERT_TRUE(parsed.error);
  EXPECT_EQ(*parsed.error, OcspError::kUnauthorized);
  EXPECT_EQ(parsed.problem, "CertID hash algorithm is not SHA-1 or SHA-256");
}

TEST_F(OcspRequestTest, MultipleOrNoCertIdsAreMalformed) {
  std::vector<ossl::OcspCertId> ids;
  ids.push_back(Id(EVP_sha1(), 5));
  ids.push_back(Id(EVP_sha1(), 6));
  auto two = ParseOcspRequest(Request(std::move(ids)));
  ASSERT_TRUE(two.error);
  EXPECT_EQ(*two.error, OcspError::kMalformedRequest);
  EXPECT_EQ(two.problem, "more than one CertID (RFC 5019 allows one)");
  auto none = ParseOcspRequest(Request({}));
  ASSERT_TRUE(none.error);
  EXPECT_EQ(*none.error, OcspError::kMalformedRequest);
}

TEST_F(OcspRequestTest, TruncatedTrailingOversizedAndGarbage) {
  std::vector<ossl::OcspCertId> ids;
  ids.push_back(Id(EVP_sha1(), 5));
  Bytes der = Request(std::move(ids));
  for (size_t cut : {size_t{1}, der.size() / 2, der.size() - 1}) {
    auto p = ParseOcspRequest(std::span(der).first(cut));
    ASSERT_TRUE(p.error) << cut;
    EXPECT_EQ(*p.error, OcspError::kMalformedRequest);
  }
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_EQ(ParseOcspRequest(trailing).problem, "trailing bytes after the OCSPRequest");
  Bytes big(kMaxOcspRequestBytes + 1, 0x30);
  EXPECT_EQ(ParseOcspRequest(big).problem, "request larger than 1024 bytes");
  EXPECT_EQ(*ParseOcspRequest({}).error, OcspError::kMalformedRequest);
  Bytes garbage{'h', 'e', 'l', 'l', 'o'};
  EXPECT_EQ(*ParseOcspRequest(garbage).error, OcspError::kMalformedRequest);
}

TEST_F(OcspRequestTest, ZeroSerialIsUnauthorized) {
  std::vector<ossl::OcspCertId> ids;
  ids.push_back(Id(EVP_sha1(), 0));
  auto p = ParseOcspRequest(Request(std::move(ids)));
  ASSERT_TRUE(p.error);
  EXPECT_EQ(*p.error, OcspError::kUnauthorized);
}

TEST_F(OcspRequestTest, GetPathEncodings) {
  std::vector<ossl::OcspCertId> ids;
  ids.push_back(Id(EVP_sha256(), 0xfbff));
  Bytes der = Request(std::move(ids));
  std::string b64 = Base64Encode(der);
  std::string url = Base64UrlEncode(der);
  std::string pct;
  for (char c : b64) {
    if (c == '+')
      pct += "%2B";
    else if (c == '/')
      pct += "%2F";
    else if (c == '=')
      pct += "%3D";
    else
      pct += c;
  }
  for (const std::string& path : {b64, url, pct}) {
    auto decoded = DecodeOcspGetPath(path);
    ASSERT_TRUE(decoded) << path;
    EXPECT_EQ(*decoded, der);
  }
  EXPECT_FALSE(DecodeOcspGetPath(""));
  EXPECT_FALSE(DecodeOcspGetPath("%2"));
  EXPECT_FALSE(DecodeOcspGetPath("ab*d"));
  EXPECT_FALSE(DecodeOcspGetPath(std::string(2000, 'A')));
}

}  // namespace
}  // namespace ca::crl_ocsp
