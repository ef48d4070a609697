// The ceremony's declarative config: one JSON file per ceremony, parsed strictly (unknown keys,
// wrong types, missing fields, out-of-range values and duplicate keys are errors) before anything
// is touched. Parsing is pure; checks that need the filesystem live in the runner's preflight.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "hsm/token.h"

namespace ca::appliance::ceremony {

enum class CeremonyKind {
  kInitToken,
  kRoot,
  kIntermediate,
  kOcspSigner,
  kRootCrl,
  kTlsServer,
  kStaging,
  kAll
};

// "init-token", "root", "intermediate", "ocsp-signer", "root-crl", "tls-server", "staging", "all".
std::string_view CeremonyKindName(CeremonyKind kind);

// Distinguished name attributes in the order they appear in the certificate (C, ST, L, O, OU,
// organizationIdentifier, CN). CN is always present.
struct Subject {
  std::vector<std::pair<std::string, std::string>> attributes;  // (OpenSSL short name, UTF-8 value)
  std::string common_name;
};

struct TokenSection {
  std::string module_path;
  std::string label;
  std::string user_pin_source;  // "file:/path" or "env:NAME"
  std::string so_pin_source;    // init-token only
};

// An existing CA the ceremony signs with: its key on the token and its certificate file.
struct IssuerSection {
  std::string key_label;
  std::string certificate_path;
};

struct KeySpec {
  std::string label;
  hsm::KeyType type;
};

struct RootSection {
  KeySpec key;
  Subject subject;
  int validity_days = 7305;  // 20 years
};

struct IntermediateSection {
  KeySpec key;
  Subject subject;
  int validity_days = 1826;
  std::string crl_url;         // where the root CRL is published (CRL distribution point)
  std::string ca_issuers_url;  // where the root certificate is published (AIA caIssuers)
  std::vector<std::string> permitted_dns;  // name constraints; empty = none
  std::vector<std::string> excluded_dns;
};

struct OcspSignerSection {
  KeySpec key;
  Subject subject;
  int validity_days = 365;
};

// The names a server certificate is valid for: lower-case DNS names (no wildcard) and IP addresses
// in the canonical text form of inet_ntop.
struct SubjectAltNames {
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
};

// The ACME gateway's HTTPS certificate. Its key is a software key made by the ceremony (the
// gateway never touches the HSM); the issuer is the ACME intermediate, whose key is on the token.
struct TlsServerSection {
  Subject subject;  // the CN is one of the names
  SubjectAltNames names;
  hsm::KeyType key_type = hsm::KeyType::kEcP256;
  int validity_days = 397;
};

struct RevokedEntry {
  std::string serial_hex;       // lower-case hex, no leading zeros beyond one byte
  int reason = -1;              // CRL reason code (RFC 5280), -1 = none
  std::string revocation_date;  // "YYYYMMDDHHMMSSZ" (GeneralizedTime); empty = ceremony time
};

struct RootCrlSection {
  std::optional<uint64_t> crl_number;          // fixed number, or
  std::optional<std::string> crl_number_file;  // counter file: last number used (absent = 0)
  int next_update_days = 365;
  std::vector<RevokedEntry> revoked;
};

struct CeremonyConfig {
  CeremonyKind kind = CeremonyKind::kRoot;
  std::string operator_name;
  TokenSection token;
  std::string output_dir;
  std::optional<IssuerSection> issuer;  // intermediate, ocsp-signer, root-crl, tls-server
  std::optional<RootSection> root;
  std::optional<IntermediateSection> intermediate;
  std::optional<OcspSignerSection> ocsp_signer;
  std::optional<RootCrlSection> root_crl;
  std::optional<TlsServerSection> tls_server;
};

// Validity bounds (days) per certificate kind.
inline constexpr int kRootMinDays = 365, kRootMaxDays = 9132;                 // 1 .. 25 years
inline constexpr int kIntermediateMinDays = 30, kIntermediateMaxDays = 3653;  // .. 10 years
inline constexpr int kOcspMinDays = 1, kOcspMaxDays = 398;
inline constexpr int kTlsServerMinDays = 1, kTlsServerMaxDays = 397;
inline constexpr int kCrlMinDays = 1, kCrlMaxDays = 400;

// Parses and validates the whole config text. Errors are kInvalidArgument with a one-line message
// naming the field ("config: root.key_type: unsupported key type 'rsa2048' (allowed: ...)").
Result<CeremonyConfig> ParseConfig(std::string_view text);

// "rsa3072", "rsa4096", "ec-p256", "ec-p384": the names the config uses (same as hsm::KeyTypeName;
// kept here so each role's allowed set is one table).
std::string_view KeyTypeLabel(hsm::KeyType type);

}  // namespace ca::appliance::ceremony
