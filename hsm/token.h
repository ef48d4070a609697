// The one module that talks PKCS#11. A Token is a logged-in connection to one PKCS#11 token with a
// pool of sessions; HsmKey is a private key on it. Everything returns Result; errors name the
// CKR_* code and the operation ("C_SignInit: CKR_KEY_HANDLE_INVALID").
//
// Recovery: when a call fails with CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED,
// CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT or CKR_USER_NOT_LOGGED_IN, the token reopens its
// sessions, logs in again, re-finds every HsmKey by label and checks the public key still matches,
// then retries the operation once. CKR_PIN_INCORRECT / CKR_PIN_LOCKED / CKR_PIN_EXPIRED are never
// retried (kPermissionDenied), and after one such failure the token never tries the PIN again.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"
#include "common/secret.h"

namespace ca::hsm {

using Bytes = std::vector<uint8_t>;

enum class KeyType { kRsa3072, kRsa4096, kEcP256, kEcP384 };

// "rsa3072", "rsa4096", "ec-p256", "ec-p384".
Result<KeyType> ParseKeyType(std::string_view name);
std::string_view KeyTypeName(KeyType type);

enum class SignScheme {
  kRsaPkcs1Sha256,
  kRsaPkcs1Sha384,
  kRsaPkcs1Sha512,
  kRsaPssSha256,  // salt length = digest length, MGF1 with the same hash
  kRsaPssSha384,
  kRsaPssSha512,
  kEcdsaSha256,  // signature returned DER-encoded (ECDSA-Sig-Value), as X.509 wants it
  kEcdsaSha384,
};

struct TokenConfig {
  std::string module_path = "/usr/lib/softhsm/libsofthsm2.so";
  std::string token_label;  // the token is found by label among slots with a token present
  size_t pool_size = 2;     // sessions kept open and logged in; >= number of signing threads
};

class Token;

// A private key on the token plus its public half (read once, kept as a software EVP_PKEY).
class HsmKey {
 public:
  virtual ~HsmKey() = default;
  virtual const std::string& label() const = 0;
  virtual const Bytes& id() const = 0;  // CKA_ID
  virtual KeyType type() const = 0;
  virtual const EVP_PKEY* public_key() const = 0;  // software key; never null

  // Signs `digest` (already hashed with the scheme's hash; its length must match) with the
  // scheme, then verifies the signature with the public key before returning it.
  virtual Result<Bytes> SignDigest(SignScheme scheme, std::span<const uint8_t> digest) = 0;

  // Hashes `data` locally and calls SignDigest.
  virtual Result<Bytes> Sign(SignScheme scheme, std::span<const uint8_t> data) = 0;
};

// What a generated key pair may do. kSign: the private key signs (CA keys). kUnwrap: the private
// key only unwraps (CKA_UNWRAP, no CKA_SIGN / CKA_DECRYPT) and the public key only wraps: the key
// the EAB MAC keys are wrapped to (ceremony `mac-wrap`, HmacSha256WithWrappedKey).
enum class KeyUsage { kSign, kUnwrap };

struct GeneratedKey {
  std::shared_ptr<HsmKey> key;
};

class Token : public std::enable_shared_from_this<Token> {
 public:
  // Loads the module (once per path per process), finds the token by label, opens pool_size
  // sessions and logs in as CKU_USER. A wrong PIN fails at once with kPermissionDenied.
  // PKCS#11 login state belongs to the process: while another Token of this process is logged
  // in to the same token, C_Login answers CKR_USER_ALREADY_LOGGED_IN and the PIN is not checked.
  static Result<std::shared_ptr<Token>> Open(const TokenConfig& config, Secret user_pin);

  virtual ~Token() = default;

  // Generates a key pair on the token: private key CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE=true,
  // CKA_EXTRACTABLE=false, CKA_SIGN; public key CKA_TOKEN, CKA_VERIFY. CKA_ID = SHA-1 of the
  // public key's DER (so certificates' SKI and the token agree): precisely, of the
  // subjectPublicKey BIT STRING contents, which is what OpenSSL puts in the SKI. Refuses
  // (kAlreadyExists) when an object with the label exists.
  virtual Result<std::shared_ptr<HsmKey>> GenerateKeyPair(KeyType type, const std::string& label,
                                                          KeyUsage usage = KeyUsage::kSign) = 0;

  // HMAC-SHA256 of each of `inputs` under a secret that never exists in clear outside the token:
  // C_UnwrapKey of `wrapped` (RSA-OAEP with SHA-1 and MGF1-SHA-1, the only OAEP parameters
  // SoftHSMv2 2.6 unwraps with) with the RSA private key `unwrap_label` (KeyUsage::kUnwrap) into a
  // session CKK_GENERIC_SECRET key (CKA_SENSITIVE, not extractable, CKA_SIGN only), C_Sign with
  // CKM_SHA256_HMAC per input, then C_DestroyObject. kCrypto when `wrapped` does not unwrap.
  virtual Result<std::vector<Bytes>> HmacSha256WithWrappedKey(
      const std::string& unwrap_label, std::span<const uint8_t> wrapped,
      const std::vector<std::span<const uint8_t>>& inputs) = 0;

  // Finds a private key (and its public key) by label; kNotFound if absent.
  virtual Result<std::shared_ptr<HsmKey>> FindKey(const std::string& label) = 0;

  // True if any object (private key, public key, certificate, data) carries the label.
  virtual Result<bool> HasObject(const std::string& label) = 0;

  // Stores a certificate object (CKO_CERTIFICATE, X.509) with the label and CKA_ID, for tools
  // like pkcs11-tool to show what the ceremony made.
  virtual Status StoreCertificate(const std::string& label, const Bytes& id, const X509* cert) = 0;

  virtual const TokenConfig& config() const = 0;

  // For fault tests: closes every session of the token's slot from inside the process, as a token
  // restart would. The next operation goes through recovery. Waits for in-flight PKCS#11 calls of
  // this token to finish first (SoftHSM is not safe against closing a session mid-C_Sign).
  virtual Status CloseAllSessionsForTest() = 0;
};

// Initialises the token in the first slot whose token is not initialised yet, with the label and
// SO PIN, then sets the user PIN (C_InitToken, re-enumerate slots to find it by label, C_Login as
// SO, C_InitPIN). Refuses (kAlreadyExists) if a token with the label is already initialised; never
// re-initialises a token. kResourceExhausted if no free slot.
Status InitToken(const std::string& module_path, const std::string& token_label,
                 const Secret& so_pin, const Secret& user_pin);

// The seam: an EVP_PKEY whose private-key operations go to the HSM key through this project's
// OpenSSL 3 provider ("hsm-seam", registered in the default library context next to "default"),
// so X509_sign, X509_REQ_sign, X509_CRL_sign and OCSP_basic_sign work with it. Digests: SHA-256/
// 384/512 for RSA (PKCS#1 v1.5, or PSS via EVP_PKEY_CTX_set_rsa_padding with salt = digest
// length), SHA-256/384 for ECDSA. The EVP_PKEY keeps the HsmKey alive. Its public half encodes and
// compares like a software key (X509_set_pubkey, EVP_PKEY_eq, X509_check_private_key work).
Result<ossl::Pkey> ToEvpPkey(std::shared_ptr<HsmKey> key);

// When an OpenSSL call through the seam fails (X509_sign returns 0 ...), the OpenSSL error queue
// only says "failed to sign". This returns (and clears) the HsmKey error behind the last failed
// seam signature of the calling thread, e.g. {kUnavailable, "C_Sign: CKR_DEVICE_REMOVED"}.
std::optional<Error> TakeLastSeamError();

}  // namespace ca::hsm
