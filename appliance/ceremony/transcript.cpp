#include "appliance/ceremony/transcript.h"

#include <openssl/err.h>

#include <filesystem>
#include <set>

#include "appliance/ceremony/certs.h"
#include "common/encoding.h"
#include "common/log.h"
#include "pki/cert_builder.h"

namespace ca::appliance::ceremony {

namespace {
using nlohmann::json;

std::string DigestName(const EVP_PKEY* key) {
  return pki::DigestForKey(key) == EVP_sha384() ? "sha384" : "sha256";
}

std::unexpected<Error> Tampered(std::string message) {
  return Fail(ErrorCode::kCorrupt, std::move(message));
}
}  // namespace

Transcript::Transcript(std::string ceremony, std::string operator_name, std::string token_label,
                       std::string module_path, std::string config_sha256_hex) {
  doc_ = json::object();
  doc_["format"] = kTranscriptFormat;
  doc_["ceremony"] = std::move(ceremony);
  doc_["operator"] = std::move(operator_name);
  doc_["token"] = {{"label", std::move(token_label)}, {"module", std::move(module_path)}};
  doc_["config_sha256"] = std::move(config_sha256_hex);
  doc_["started_at"] = log::NowRfc3339();
  doc_["steps"] = json::array();
  doc_["artifacts"] = json::array();
}

void Transcript::Step(const std::string& action, json details) {
  json step = {{"ts", log::NowRfc3339()}, {"action", action}};
  for (auto& [k, v] : details.items()) step[k] = v;
  doc_["steps"].push_back(std::move(step));
}

void Transcript::Artifact(const std::string& name, std::string_view bytes) {
  doc_["artifacts"].push_back({{"name", name}, {"sha256", HexEncode(Sha256(bytes))}});
}

std::string Transcript::Serialize(const std::optional<TranscriptSigner>& signer,
                                  const EVP_PKEY* signer_public) const {
  json doc = doc_;
  doc["finished_at"] = log::NowRfc3339();
  if (signer) {
    auto fp = ossl::PublicKeyFingerprint(signer_public);
    doc["signer"] = {
        {"key_label", signer->key_label},      {"key_id", HexEncode(signer->key_id)},
        {"certificate", signer->certificate},  {"public_key_sha256", fp ? HexEncode(*fp) : ""},
        {"digest", DigestName(signer_public)}, {"signature_file", kTranscriptSigFile}};
  } else {
    doc["signer"] = nullptr;
  }
  return doc.dump(2) + "\n";
}

Result<std::vector<uint8_t>> SignDetached(EVP_PKEY* key, std::span<const uint8_t> data) {
  ossl::MdCtx ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, pki::DigestForKey(key), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1) {
    return ossl::CryptoFail("sign transcript");
  }
  std::vector<uint8_t> sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) != 1) {
    return ossl::CryptoFail("sign transcript");
  }
  sig.resize(len);
  return sig;
}

Status VerifyDetached(const EVP_PKEY* key, std::span<const uint8_t> data,
                      std::span<const uint8_t> signature) {
  ossl::MdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY* k = const_cast<EVP_PKEY*>(key);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, pki::DigestForKey(key), nullptr, k) != 1) {
    return ossl::CryptoFail("verify transcript");
  }
  int rc =
      EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(), data.size());
  ERR_clear_error();
  if (rc != 1) return Fail(ErrorCode::kCrypto, "transcript signature does not verify");
  return Ok();
}

namespace {
Result<VerifyReport> VerifyDir(const std::string& dir, const X509* trust_anchor) {
  namespace fs = std::filesystem;
  std::string text = CA_TRY(ossl::ReadFile(dir + "/" + kTranscriptFile));
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kTranscriptFormat ||
      !doc.contains("artifacts") || !doc["artifacts"].is_array() || !doc.contains("signer") ||
      !doc["ceremony"].is_string()) {
    return Tampered("transcript.json is not a ceremony transcript");
  }
  VerifyReport report;
  report.ceremony = doc["ceremony"].get<std::string>();

  std::set<std::string> listed = {kTranscriptFile, kTranscriptSigFile};
  for (const auto& a : doc["artifacts"]) {
    if (!a.is_object() || !a.contains("name") || !a["name"].is_string() || !a.contains("sha256") ||
        !a["sha256"].is_string()) {
      return Tampered("transcript.json has a malformed artifact entry");
    }
    std::string name = a["name"].get<std::string>();
    if (name.empty() || name.find('/') != std::string::npos || name.starts_with('.')) {
      return Tampered("artifact name '" + name + "' is not a plain file name");
    }
    auto bytes = ossl::ReadFile(dir + "/" + name);
    if (!bytes) return Tampered("artifact " + name + " is missing");
    if (HexEncode(Sha256(*bytes)) != a["sha256"].get<std::string>()) {
      return Tampered("artifact " + name + " does not match its SHA-256 in the transcript");
    }
    listed.insert(name);
    ++report.artifacts;
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!listed.contains(name))
      return Tampered("file " + name + " is not listed in the transcript");
  }
  if (ec) return Fail(ErrorCode::kIo, "list " + dir + ": " + ec.message());

  const json& signer = doc["signer"];
  if (signer.is_null()) {
    if (report.ceremony != "init-token" || trust_anchor != nullptr ||
        fs::exists(dir + "/" + kTranscriptSigFile)) {
      return Tampered("transcript has no signer");
    }
    return report;
  }
  if (!signer.is_object() || !signer.contains("certificate") ||
      !signer["certificate"].is_string() || !signer.contains("key_label") ||
      !signer["key_label"].is_string()) {
    return Tampered("transcript signer block is malformed");
  }
  std::string cert_name = signer["certificate"].get<std::string>();
  if (!listed.contains(cert_name) || cert_name == kTranscriptFile) {
    return Tampered("signer certificate " + cert_name + " is not an artifact of the transcript");
  }
  std::string pem = CA_TRY(ossl::ReadFile(dir + "/" + cert_name));
  ossl::X509Ptr cert = CA_TRY(ossl::CertFromPem(pem));
  const EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (key == nullptr) return Tampered("signer certificate has no readable key");
  auto fp = CA_TRY(ossl::PublicKeyFingerprint(key));
  if (signer.value("public_key_sha256", "") != HexEncode(fp)) {
    return Tampered("signer certificate's key differs from the transcript's signer");
  }
  auto sig_text = ossl::ReadFile(dir + "/" + kTranscriptSigFile);
  if (!sig_text) return Tampered(std::string(kTranscriptSigFile) + " is missing");
  auto verified = VerifyDetached(key, AsBytes(text), AsBytes(*sig_text));
  if (!verified) return Tampered("transcript.json signature does not verify (transcript altered)");
  if (trust_anchor != nullptr) {
    const EVP_PKEY* anchor = X509_get0_pubkey(const_cast<X509*>(trust_anchor));
    bool same_key = anchor != nullptr && EVP_PKEY_eq(key, anchor) == 1;
    bool issued = anchor != nullptr && X509_verify(cert.get(), const_cast<EVP_PKEY*>(anchor)) == 1;
    ERR_clear_error();
    if (!same_key && !issued) {
      return Fail(
          ErrorCode::kPermissionDenied,
          "transcript signer " + cert_name + " is neither the trust anchor nor issued by it");
    }
  }
  report.signed_ = true;
  report.signer_label = signer["key_label"].get<std::string>();
  const X509* against = trust_anchor != nullptr ? trust_anchor : cert.get();
  report.anchor_subject = NameText(X509_get_subject_name(against));
  report.anchor_sha256_fingerprint = CertSha256Fingerprint(against);
  report.anchor_is_signer = trust_anchor == nullptr;
  report.anchor_self_signed =
      X509_NAME_cmp(X509_get_subject_name(against), X509_get_issuer_name(against)) == 0 &&
      X509_verify(const_cast<X509*>(against), X509_get0_pubkey(against)) == 1;
  ERR_clear_error();
  return report;
}
}  // namespace

Result<VerifyReport> VerifyTranscriptDir(const std::string& dir, const X509* trust_anchor) {
  try {
    return VerifyDir(dir, trust_anchor);
  } catch (const nlohmann::json::exception&) {
    return Tampered("transcript.json has a field of the wrong type");
  }
}

}  // namespace ca::appliance::ceremony
