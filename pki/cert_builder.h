// The one certificate builder: an X.509 v3 certificate from a plain description (names, key,
// serial, validity, extensions in order), either unsigned with its signature algorithm already set
// (so that the exact TBS bytes can be linted before signing) or signed. The extension makers below
// let OpenSSL encode every value. Callers keep only their choices: profiles/issuance/tbs.cpp (a
// subscriber certificate from profile, organization and CSR) and the key ceremony (root,
// intermediate, OCSP signer, TLS server certificates).
#pragma once

#include <openssl/x509.h>

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"

namespace ca::pki {

using Bytes = ossl::Bytes;
using Time = std::chrono::sys_seconds;

struct NameAttribute {
  std::string field;         // OpenSSL short name: "C", "O", "CN", ...
  std::string value;         // UTF-8
  int type = MBSTRING_UTF8;  // MBSTRING_ASC for a PrintableString countryName
};
Result<ossl::X509Name> BuildName(std::span<const NameAttribute> attributes);

struct CertDescription {
  const ASN1_INTEGER* serial = nullptr;
  const X509_NAME* subject = nullptr;
  const X509_NAME* issuer = nullptr;  // nullptr: self-issued (the subject)
  const EVP_PKEY* public_key = nullptr;
  Time not_before{};
  Time not_after{};
  std::vector<ossl::X509Ext> extensions;  // encoded in this order
  // When set, the subjectKeyIdentifier (KeyIdentifierOf the key as this certificate encodes it) is
  // inserted at this position of `extensions`: it hashes the bits the builder has just encoded
  // instead of encoding the key a second time (OpenSSL 3's key encoders are costly).
  std::optional<size_t> subject_key_id_at = std::nullopt;
  // Optional: `public_key` as a decoded SubjectPublicKeyInfo (a CSR's). When it is the canonical
  // encoding of that key (IsCanonicalSpkiOf), its algorithm and key bits are taken as they are:
  // X509_set_pubkey encodes the key through OpenSSL 3's encoders and decodes it again (~0.4 ms per
  // certificate). Otherwise the key is encoded by OpenSSL as without it. Either way the
  // certificate's SPKI is the canonical DER of `public_key`; when this one is taken, the unsigned
  // certificate holds no decoded key (X509_get0_pubkey is null until it is encoded and parsed).
  const X509_PUBKEY* public_key_info = nullptr;
};

// Unsigned, with the TBS and outer signature AlgorithmIdentifier set to `signature_nid`
// (sha256WithRSAEncryption with NULL parameters, ECDSA without), so that it encodes.
Result<ossl::X509Ptr> BuildUnsignedCertificate(const CertDescription& description,
                                               int signature_nid);
// Signed with `key` and DigestForKey(key).
Result<ossl::X509Ptr> BuildSignedCertificate(const CertDescription& description, EVP_PKEY* key);

// Digest used with a CA key: SHA-384 for P-384 and larger EC keys, SHA-256 otherwise.
const EVP_MD* DigestForKey(const EVP_PKEY* key);

// True when `spki` is the SubjectPublicKeyInfo OpenSSL's encoder writes for `key`, checked without
// that encoder: RSA = rsaEncryption with NULL parameters and the key bits equal to the
// RSAPublicKey DER OpenSSL encodes from the key's modulus and exponent; EC = id-ecPublicKey with
// the key's named curve and the key's encoded point. Anything else: false.
bool IsCanonicalSpkiOf(const X509_PUBKEY* spki, const EVP_PKEY* key);

// RFC 5280 §4.2.1.2 method 1: the SHA-1 of the subjectPublicKey BIT STRING value.
Result<Bytes> KeyIdentifierOf(const EVP_PKEY* key);
// The same from an encoded SubjectPublicKeyInfo (no encoding).
Result<Bytes> KeyIdentifierOfBits(const X509_PUBKEY* public_key_info);

// keyUsage bits (RFC 5280 §4.2.1.3).
enum KeyUsageBit : int {
  kDigitalSignature = 0,
  kKeyEncipherment = 2,
  kKeyCertSign = 5,
  kCrlSign = 6,
};

// Extensions. Criticality is the one RFC 5280 / CA/B require for each (noted).
Result<ossl::X509Ext> BasicConstraintsExt(bool ca, std::optional<long> path_len);  // critical
Result<ossl::X509Ext> KeyUsageExt(std::span<const KeyUsageBit> bits);              // critical
Result<ossl::X509Ext> ExtendedKeyUsageExt(std::span<const int> purpose_nids);
Result<ossl::X509Ext> SubjectKeyIdExt(std::span<const uint8_t> key_id);
Result<ossl::X509Ext> AuthorityKeyIdExt(std::span<const uint8_t> issuer_key_id);  // keyid only
// id-ad-ocsp (omitted when empty), then id-ad-caIssuers.
Result<ossl::X509Ext> AuthorityInfoAccessExt(const std::string& ocsp_url,
                                             const std::string& ca_issuers_url);
Result<ossl::X509Ext> CrlDistributionPointExt(const std::string& url);  // one fullName URI
// A CRL shard's issuingDistributionPoint (RFC 5280 §5.2.5, CA/B SC-58): critical, fullName = one
// URI (the URL in the CRLDP of the shard's certificates), onlyContainsUserCerts TRUE.
Result<ossl::X509Ext> IssuingDistributionPointExt(const std::string& url);
Result<ossl::X509Ext> CertificatePoliciesExt(std::span<const std::string> policy_oids);
// dNSNames, then iPAddresses (textual IPv4/IPv6).
Result<ossl::X509Ext> SubjectAltNameExt(std::span<const std::string> dns_names,
                                        std::span<const std::string> ip_addresses = {});
Result<ossl::X509Ext> NameConstraintsExt(std::span<const std::string> permitted_dns,
                                         std::span<const std::string> excluded_dns);  // critical
Result<ossl::X509Ext> OcspNoCheckExt();  // RFC 6960 §4.2.2.2.1

}  // namespace ca::pki
