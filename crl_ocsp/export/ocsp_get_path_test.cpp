#include "crl_ocsp/export/ocsp_get_path.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "crl_ocsp/ocsp_request.h"
#include "crl_ocsp/testing/test_pki.h"

namespace ca::crl_ocsp::exporter {
namespace {

class OcspGetPathTest : public ::testing::Test {
 protected:
  testing::Pki pki = testing::MakePki();
};

// The request is what the status server parses as one CertID of this certificate, no nonce.
TEST_F(OcspGetPathTest, CanonicalRequestNamesTheCertificateInBothHashes) {
  Bytes serial = *HexDecode("7a01");
  for (CertIdHash hash : {CertIdHash::kSha1, CertIdHash::kSha256}) {
    auto der = CanonicalOcspRequest(pki.ca.get(), serial, hash);
    ASSERT_TRUE(der) << der.error().ToString();
    ParsedOcspRequest parsed = ParseOcspRequest(*der);
    ASSERT_FALSE(parsed.error) << parsed.problem;
    EXPECT_EQ(parsed.query.hash, hash);
    EXPECT_FALSE(parsed.query.has_nonce);
    EXPECT_EQ(Bytes(parsed.query.Serial().begin(), parsed.query.Serial().end()), serial);
    IssuerHashes want = *ComputeIssuerHashes(pki.ca.get(), hash);
    EXPECT_EQ(Bytes(parsed.query.NameHash().begin(), parsed.query.NameHash().end()),
              want.name_hash);
    EXPECT_EQ(Bytes(parsed.query.KeyHash().begin(), parsed.query.KeyHash().end()), want.key_hash);
  }
  EXPECT_FALSE(CanonicalOcspRequest(pki.ca.get(), Bytes{}, CertIdHash::kSha1));
  EXPECT_FALSE(CanonicalOcspRequest(nullptr, serial, CertIdHash::kSha1));
}

// The file path is the GET path: the status server decodes it (also %-encoded) to the request.
TEST_F(OcspGetPathTest, FilePathIsTheGetPath) {
  Bytes serial = *HexDecode("01f3a9");
  auto paths = OcspExportPaths(pki.ca.get(), serial);
  ASSERT_TRUE(paths) << paths.error().ToString();
  for (CertIdHash hash : {CertIdHash::kSha1, CertIdHash::kSha256}) {
    Bytes der = *CanonicalOcspRequest(pki.ca.get(), serial, hash);
    const std::string& path = (*paths)[hash == CertIdHash::kSha1 ? 0 : 1];
    EXPECT_EQ(path, "ocsp/" + Base64Encode(der));
    auto decoded = DecodeOcspGetPath(std::string_view(path).substr(5));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, der);
  }
  EXPECT_NE((*paths)[0], (*paths)[1]);
}

// A base64 text ending in '/' can not be a file name: the response is that directory's index.
TEST_F(OcspGetPathTest, TrailingSlashGoesToTheDirectoryIndex) {
  size_t found = 0;
  for (uint32_t s = 1; s < 20000 && found == 0; ++s) {
    Bytes serial{static_cast<uint8_t>(0x40 | (s >> 8)), static_cast<uint8_t>(s)};
    for (CertIdHash hash : {CertIdHash::kSha1, CertIdHash::kSha256}) {
      Bytes der = *CanonicalOcspRequest(pki.ca.get(), serial, hash);
      std::string b64 = Base64Encode(der);
      if (!b64.ends_with('/')) continue;
      EXPECT_EQ(OcspGetFilePath(der), "ocsp/" + b64 + "index.der");
      ++found;
    }
  }
  EXPECT_GT(found, 0u);
  EXPECT_EQ(OcspGetFilePath(AsBytes("abc")), "ocsp/YWJj");
}

}  // namespace
}  // namespace ca::crl_ocsp::exporter
