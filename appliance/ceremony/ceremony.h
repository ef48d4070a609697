// Runs one ceremony from its config in two phases. Prepare validates everything that does not need
// the token (config, PIN sources, module file, output directory, issuer certificate, CRL counter)
// and changes nothing. Execute opens the token, checks every label first (new labels absent,
// issuer key present and matching its certificate), then generates, signs, lints and writes
// everything into a private staging directory that is renamed into place at the very end; on any
// failure the staging directory is removed.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "appliance/ceremony/config.h"
#include "appliance/ceremony/key_store.h"
#include "common/openssl.h"
#include "common/result.h"
#include "common/secret.h"

namespace ca::appliance::ceremony {

// Artifact file names inside the output directory.
inline constexpr const char* kRootCertFile = "root.pem";
inline constexpr const char* kIntermediateCertFile = "intermediate.pem";
inline constexpr const char* kOcspSignerCertFile = "ocsp-signer.pem";
inline constexpr const char* kIssuerCertFile = "issuer.pem";  // copy of the issuer's certificate
inline constexpr const char* kRootCrlPemFile = "root-crl.pem";
inline constexpr const char* kRootCrlDerFile = "root-crl.crl";  // DER, as served at the CRL DP URL
inline constexpr const char* kTlsServerCertFile = "tls-server.pem";
inline constexpr const char* kTlsServerChainFile = "tls-server-chain.pem";  // leaf + issuer
inline constexpr const char* kTlsServerKeyFile = "tls-server.key";          // PKCS#8 PEM, mode 0600
inline constexpr const char* kConfigCopyFile = "config.json";
inline constexpr const char* kManifestFile = "ceremony.json";
inline constexpr const char* kManifestFormat = "ca-ceremony-manifest/1";

struct PreparedCeremony {
  CeremonyConfig config;
  std::string config_text;
  std::string config_sha256_hex;
  Secret user_pin;
  Secret so_pin;              // init-token only
  ossl::X509Ptr issuer_cert;  // intermediate, ocsp-signer, root-crl, tls-server
  std::string issuer_cert_pem;
  std::optional<uint64_t> crl_number;  // the number this run will use
  time_t now = 0;
};

// Phase 1: no token access, nothing changed. Errors: kInvalidArgument (config), kAlreadyExists
// (output directory exists), kNotFound (module, issuer certificate, PIN file), ...
Result<PreparedCeremony> PrepareCeremony(const std::string& config_path);
Result<PreparedCeremony> PrepareCeremonyFromText(std::string config_text, time_t now);

// The root a ceremony made, for the operator to write down.
struct RootSummary {
  std::string subject;             // RFC 2253
  std::string sha256_fingerprint;  // as openssl x509 -fingerprint -sha256 prints it
};

struct CeremonyOutcome {
  std::string output_dir;
  std::optional<RootSummary> root;  // root ceremony only
  std::vector<std::string> artifacts;
  std::vector<std::string> created_labels;  // objects created on the token
};

// Phase 2: token work and outputs.
Result<CeremonyOutcome> ExecuteCeremony(PreparedCeremony prepared, TokenProvider& provider);

}  // namespace ca::appliance::ceremony
