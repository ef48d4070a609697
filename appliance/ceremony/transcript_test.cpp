#include "appliance/ceremony/transcript.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "appliance/ceremony/certs.h"
#include "common/encoding.h"

namespace ca::appliance::ceremony {
namespace {

namespace fs = std::filesystem;

ossl::Pkey Ec(const char* curve) {
  return ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

ossl::X509Ptr SelfSigned(EVP_PKEY* key, const std::string& cn) {
  Subject s;
  s.attributes = {{"CN", cn}};
  s.common_name = cn;
  auto fp = ossl::PublicKeyFingerprint(key);
  time_t now = time(nullptr);
  auto cert = BuildRootCertificate(
      {key, Bytes(fp->begin(), fp->begin() + 20), s, now, now + 400 * 86400}, key);
  return std::move(*cert);
}

class TranscriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("transcript-test-" + HexEncode(RandomBytes(6)));
    fs::create_directory(dir_);
    key_ = Ec("P-384");
    cert_ = SelfSigned(key_.get(), "Transcript Root");
    Transcript t("root", "Alice", "tok", "/usr/lib/softhsm/libsofthsm2.so", std::string(64, 'a'));
    t.Step("generate-key", {{"key_label", "root"}, {"key_id", "0102"}});
    std::string pem = *ossl::CertToPem(cert_.get());
    Write("root.pem", pem);
    t.Artifact("root.pem", pem);
    Write("config.json", "{}");
    t.Artifact("config.json", "{}");
    TranscriptSigner signer{"root", {1, 2}, "root.pem", key_.get()};
    text_ = t.Serialize(signer, key_.get());
    Write(kTranscriptFile, text_);
    auto sig = SignDetached(key_.get(), AsBytes(text_));
    ASSERT_TRUE(sig);
    Write(kTranscriptSigFile, std::string(AsString(*sig)));
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& data) {
    ASSERT_TRUE(ossl::WriteFileAtomic((dir_ / name).string(), data, 0644, true));
  }

  fs::path dir_;
  ossl::Pkey key_;
  ossl::X509Ptr cert_;
  std::string text_;
};

TEST_F(TranscriptTest, DetachedSignatureRoundTrip) {
  ossl::Pkey rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{3072}));
  for (EVP_PKEY* k : {key_.get(), rsa.get()}) {
    auto sig = SignDetached(k, AsBytes("exact bytes"));
    ASSERT_TRUE(sig);
    EXPECT_TRUE(VerifyDetached(k, AsBytes("exact bytes"), *sig));
    auto bad = VerifyDetached(k, AsBytes("exact bytes "), *sig);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ErrorCode::kCrypto);
  }
}

TEST_F(TranscriptTest, ContentRecordsStepsArtifactsAndSigner) {
  auto doc = nlohmann::json::parse(text_);
  EXPECT_EQ(doc["format"], kTranscriptFormat);
  EXPECT_EQ(doc["operator"], "Alice");
  EXPECT_EQ(doc["token"]["label"], "tok");
  EXPECT_EQ(doc["config_sha256"], std::string(64, 'a'));
  ASSERT_EQ(doc["steps"].size(), 1u);
  EXPECT_EQ(doc["steps"][0]["action"], "generate-key");
  EXPECT_TRUE(doc["steps"][0]["ts"].is_string());
  EXPECT_EQ(doc["artifacts"][1]["sha256"], HexEncode(Sha256(std::string("{}"))));
  EXPECT_EQ(doc["signer"]["key_id"], "0102");
  EXPECT_EQ(doc["signer"]["digest"], "sha384");
}

TEST_F(TranscriptTest, VerifiesIntactDirectory) {
  auto report = VerifyTranscriptDir(dir_.string(), nullptr);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->signed_);
  EXPECT_EQ(report->artifacts, 2u);
  EXPECT_EQ(report->signer_label, "root");
  EXPECT_EQ(report->ceremony, "root");
  EXPECT_TRUE(VerifyTranscriptDir(dir_.string(), cert_.get()));
}

TEST_F(TranscriptTest, DetectsTamperedArtifact) {
  Write("config.json", "{\"x\":1}");
  auto report = VerifyTranscriptDir(dir_.string(), nullptr);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, ErrorCode::kCorrupt);
  EXPECT_EQ(report.error().message,
            "artifact config.json does not match its SHA-256 in the transcript");
}

TEST_F(TranscriptTest, DetectsTamperedTranscript) {
  std::string altered = text_;
  altered.replace(altered.find("Alice"), 5, "Malia");
  Write(kTranscriptFile, altered);
  auto report = VerifyTranscriptDir(dir_.string(), nullptr);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().message,
            "transcript.json signature does not verify (transcript altered)");
}

TEST_F(TranscriptTest, DetectsMissingAndExtraFiles) {
  Write("extra.pem", "x");
  auto report = VerifyTranscriptDir(dir_.string(), nullptr);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().message, "file extra.pem is not listed in the transcript");
  fs::remove(dir_ / "extra.pem");
  fs::remove(dir_ / kTranscriptSigFile);
  report = VerifyTranscriptDir(dir_.string(), nullptr);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().message, "transcript.json.sig is missing");
}

TEST_F(TranscriptTest, TrustAnchorMustMatch) {
  ossl::Pkey other = Ec("P-384");
  auto other_cert = SelfSigned(other.get(), "Other Root");
  auto report = VerifyTranscriptDir(dir_.string(), other_cert.get());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, ErrorCode::kPermissionDenied);
}

TEST_F(TranscriptTest, UnsignedOnlyForInitToken) {
  Transcript t("root", "Alice", "tok", "/m.so", std::string(64, 'b'));
  Write(kTranscriptFile, t.Serialize(std::nullopt, nullptr));
  fs::remove(dir_ / kTranscriptSigFile);
  fs::remove(dir_ / "root.pem");
  fs::remove(dir_ / "config.json");
  auto report = VerifyTranscriptDir(dir_.string(), nullptr);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().message, "transcript has no signer");
  Transcript init("init-token", "Alice", "tok", "/m.so", std::string(64, 'b'));
  Write(kTranscriptFile, init.Serialize(std::nullopt, nullptr));
  report = VerifyTranscriptDir(dir_.string(), nullptr);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_FALSE(report->signed_);
  EXPECT_FALSE(VerifyTranscriptDir(dir_.string(), cert_.get()));
}

TEST_F(TranscriptTest, RejectsNonTranscript) {
  Write(kTranscriptFile, "{\"format\": 3}");
  auto report = VerifyTranscriptDir(dir_.string(), nullptr);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace ca::appliance::ceremony
