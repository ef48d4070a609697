// The ceremony's choices for the CA hierarchy's certificates, the gateway's TLS server certificate
// and the root CRL: which extensions each role carries. pki/cert_builder and pki/crl_builder build
// and sign them. Signing takes an EVP_PKEY*: an HSM key through hsm::ToEvpPkey in production, a
// software key in unit tests — the same code either way.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "appliance/ceremony/config.h"
#include "common/openssl.h"
#include "common/result.h"
#include "common/secret.h"
#include "pki/lint.h"

namespace ca::appliance::ceremony {

using Bytes = std::vector<uint8_t>;

// The certificate being made: its key, name and validity.
struct CertSubject {
  const EVP_PKEY* public_key = nullptr;
  // subjectKeyIdentifier: the token's CKA_ID. Empty for a software key: OpenSSL derives it from
  // the public key (RFC 5280 method 1, the SHA-1 the token also uses for CKA_ID).
  Bytes key_id;
  Subject subject;
  time_t not_before = 0;
  time_t not_after = 0;
};

// The CA that signs: its certificate (nullptr for the self-signed root) and its private key.
struct CertIssuer {
  const X509* certificate = nullptr;
  EVP_PKEY* key = nullptr;
};

// The name as RFC 2253 text without escaping non-ASCII: "CN=E2E Root CA,O=E2E Org,C=FR".
std::string NameText(const X509_NAME* name);

// The certificate's SHA-256 fingerprint as `openssl x509 -noout -fingerprint -sha256` prints it
// after the '=': upper-case hex pairs joined by ':'. Operators write the root's down at the
// ceremony and compare it wherever the root is installed.
std::string CertSha256Fingerprint(const X509* cert);

// The ceremony's names for the lint roles: "root", "intermediate", "ocsp-signer", "tls-server"
// (the leaf role: the gateway's HTTPS certificate). Used by the CLI and the transcript.
std::string_view CeremonyRoleName(pki::CertRole role);
std::optional<pki::CertRole> ParseCeremonyRole(std::string_view name);

// Self-signed root: basicConstraints critical CA:TRUE pathlen:1, keyUsage critical
// keyCertSign+cRLSign, SKI, AKI (keyid).
Result<ossl::X509Ptr> BuildRootCertificate(const CertSubject& subject, EVP_PKEY* root_key);

struct IntermediateExtras {
  std::string crl_url;
  std::string ca_issuers_url;
  std::vector<std::string> permitted_dns;
  std::vector<std::string> excluded_dns;
};

// ACME intermediate: basicConstraints critical CA:TRUE pathlen:0, keyUsage critical
// keyCertSign+cRLSign, EKU serverAuth, SKI/AKI, CRL DP, AIA caIssuers, optional critical name
// constraints.
Result<ossl::X509Ptr> BuildIntermediateCertificate(const CertSubject& subject,
                                                   const IntermediateExtras& extras,
                                                   const CertIssuer& issuer);

// Delegated OCSP responder: basicConstraints critical CA:FALSE, keyUsage critical
// digitalSignature, EKU OCSPSigning, id-pkix-ocsp-nocheck, SKI/AKI.
Result<ossl::X509Ptr> BuildOcspSignerCertificate(const CertSubject& subject,
                                                 const CertIssuer& issuer);

// The ACME gateway's HTTPS certificate: basicConstraints critical CA:FALSE, keyUsage critical
// digitalSignature (+keyEncipherment for an RSA key), EKU serverAuth, subjectAltName with every
// DNS name and IP address, SKI/AKI.
Result<ossl::X509Ptr> BuildTlsServerCertificate(const CertSubject& subject,
                                                const SubjectAltNames& names,
                                                const CertIssuer& issuer);

// pki::CheckNameConstraints for names not yet in a certificate, one name at a time so that the
// error names the one refused: "dns_names[1]: 'localhost' is not allowed by the issuer's name
// constraints (permitted subtree violation)".
Status CheckNamesAllowedByIssuer(const SubjectAltNames& names, const X509* issuer);

// A software key of the given type, from OpenSSL's default provider (CSPRNG).
Result<ossl::Pkey> GenerateSoftwareKey(hsm::KeyType type);

// Unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"), built in OpenSSL's secure heap and returned as a
// Secret (wiped when dropped).
Result<Secret> PrivateKeyToPkcs8Pem(const EVP_PKEY* key);

struct CrlParams {
  uint64_t crl_number = 0;
  time_t this_update = 0;
  time_t next_update = 0;
  std::vector<RevokedEntry> revoked;
};

// The root CRL from pki::BuildCrl (signed with pki::DigestForKey of the issuer key): DER.
// Entries carry their reason code unless it is none or unspecified (RFC 5280 §5.3.1).
Result<Bytes> BuildRootCrl(const CrlParams& params, const CertIssuer& issuer);

}  // namespace ca::appliance::ceremony
