// The ceremony transcript: every step with its time, the operator, the token, key labels and
// CKA_IDs, the SHA-256 of every artifact and of the config, signed (detached signature over the
// exact bytes of transcript.json) by a key the ceremony created or used. VerifyTranscriptDir checks
// the signature and every artifact hash, so a tampered artifact or transcript is detected.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"

namespace ca::appliance::ceremony {

inline constexpr const char* kTranscriptFile = "transcript.json";
inline constexpr const char* kTranscriptSigFile = "transcript.json.sig";
inline constexpr const char* kTranscriptFormat = "ca-ceremony-transcript/1";

// Who signs the transcript: a key on the token and the certificate (an artifact of the same
// directory) that carries its public key.
struct TranscriptSigner {
  std::string key_label;
  std::vector<uint8_t> key_id;
  std::string certificate;  // artifact name, e.g. "root.pem"
  EVP_PKEY* key = nullptr;  // signs (HSM-backed in production)
};

class Transcript {
 public:
  Transcript(std::string ceremony, std::string operator_name, std::string token_label,
             std::string module_path, std::string config_sha256_hex);

  // Appends a step stamped with the current time.
  void Step(const std::string& action, nlohmann::json details);
  // Records an artifact (a file name inside the output directory) and the SHA-256 of its bytes.
  void Artifact(const std::string& name, std::string_view bytes);

  // The exact bytes of transcript.json (with the signer block when there is one).
  std::string Serialize(const std::optional<TranscriptSigner>& signer,
                        const EVP_PKEY* signer_public) const;

 private:
  nlohmann::json doc_;
};

// Signs `data` with the key's digest (SHA-384 for P-384, SHA-256 otherwise; RSA PKCS#1 v1.5 or
// ECDSA, DER signature): the same bytes `openssl dgst -sha256 -verify` accepts.
Result<std::vector<uint8_t>> SignDetached(EVP_PKEY* key, std::span<const uint8_t> data);
Status VerifyDetached(const EVP_PKEY* key, std::span<const uint8_t> data,
                      std::span<const uint8_t> signature);

struct VerifyReport {
  std::string ceremony;
  size_t artifacts = 0;
  bool signed_ = false;
  std::string signer_label;
  // The certificate the signature was checked against: the trust anchor when one was given,
  // otherwise the transcript's own signer certificate (`anchor_is_signer`).
  std::string anchor_subject;
  std::string anchor_sha256_fingerprint;  // as openssl x509 -fingerprint -sha256 prints it
  bool anchor_is_signer = false;
  bool anchor_self_signed = false;  // a root
};

// Verifies DIR/transcript.json: every listed artifact's hash, no unlisted files, and the signature
// in DIR/transcript.json.sig under the signer certificate's key. With `trust_anchor`, the signer
// certificate must carry the anchor's key or be signed by it. Only an init-token transcript (no
// key exists yet) may be unsigned, and only without a trust anchor.
Result<VerifyReport> VerifyTranscriptDir(const std::string& dir, const X509* trust_anchor);

}  // namespace ca::appliance::ceremony
