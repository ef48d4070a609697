// Reading a subscriber's PKCS#10 CSR (RFC 2986, RFC 8555 §7.4), the same way in the gateway and the
// engine: decode, verify the self-signature, extract the names and the key facts, and apply the
// name rules. Profile rules on the key (allowed types and sizes, weak keys) are
// profiles/issuance's.
#pragma once

#include <openssl/x509.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"

namespace ca::pki {

// What the CSR's public key is.
struct KeyFacts {
  std::string type;               // OpenSSL's name: "RSA", "EC", "ED25519", ...
  int bits = 0;                   // modulus / group size
  std::string curve;              // EC group short name ("prime256v1"), else empty
  std::vector<uint8_t> spki_der;  // the key's canonical SubjectPublicKeyInfo (IsCanonicalSpkiOf)
  std::vector<uint8_t> spki_sha256;
};

struct CsrFacts {
  ossl::X509Req request;
  ossl::Pkey public_key;
  KeyFacts key;
  bool has_san = false;                    // a subjectAltName extension is present
  std::vector<std::string> san_dns_names;  // lower-cased, in the CSR's order
  std::vector<std::string> common_names;   // subject CNs, lower-cased
};

// Decodes DER (or takes a parsed request), verifies the self-signature and extracts names and key
// facts. Refuses (kInvalidArgument, "CSR refused: ...") undecodable DER, a missing or unreadable
// key, a bad signature, more than one subjectAltName extension and a SAN that is not a dNSName.
Result<CsrFacts> ReadCsr(std::span<const uint8_t> der);
Result<CsrFacts> ReadCsr(const X509_REQ* request);

// The names the certificate would carry: the SAN dNSNames, or the CN alone without a SAN
// extension. Refuses (kInvalidArgument, "CSR refused: ...") two CNs, a CN that is not among the
// SAN dNSNames, a name with a trailing dot and a CSR without names.
Result<std::vector<std::string>> CsrNames(const CsrFacts& csr);

// CsrNames equal to the order's names as a set, case-insensitively; the refusal lists what is
// missing and what is not in the order.
Status CheckCsrNames(const CsrFacts& csr, std::span<const std::string> order_names);

}  // namespace ca::pki
