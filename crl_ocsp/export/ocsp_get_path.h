// Where a pre-signed OCSP response lives in the static export: the path of the RFC 5019 §2.1 /
// RFC 6960 A.1 GET request that asks for it, "ocsp/" + base64 (standard alphabet, padded) of the
// DER OCSPRequest, so that a web server maps the request URI straight to the file.
//
// The request is the canonical one a client builds for one certificate (`openssl ocsp
// -no_nonce`, Go's x/crypto/ocsp, Java without a nonce, NSS): one CertID (hashAlgorithm with NULL
// parameters, issuerNameHash, issuerKeyHash, serialNumber), no requestorName, no extensions, no
// signature. A client whose bytes differ (a nonce, another hash, the URL-safe alphabet) has no file
// and goes to ca-status-server (appliance/nginx/acme-ca-status.conf).
//
// Base64's '/' makes sub-directories. Two canonical requests never make a file and a directory of
// the same name (a complete DER request is never a prefix of another one), but a base64 text can
// end in '/' (about 1 request in 200): no file can carry that name, so its response is the
// directory's index file kOcspIndexName, which the nginx site tries next
// (`try_files $uri ${uri}index.der`).
#pragma once

#include <openssl/x509.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "common/result.h"
#include "crl_ocsp/ocsp_response.h"

namespace ca::crl_ocsp::exporter {

// Not in either base64 alphabet ('.'), so never the name of a path segment of a request.
inline constexpr std::string_view kOcspIndexName = "index.der";

// The DER OCSPRequest for one certificate of `issuer` (serial magnitude, big endian, no leading
// zeros), CertID in `hash`, no extensions.
Result<Bytes> CanonicalOcspRequest(const X509* issuer, std::span<const uint8_t> serial,
                                   CertIdHash hash);

// "ocsp/<base64>" for a DER request, or "ocsp/<base64>index.der" when the base64 ends in '/'.
std::string OcspGetFilePath(std::span<const uint8_t> request_der);

// The export paths of a certificate's response: its SHA-1 and its SHA-256 CertID requests.
Result<std::array<std::string, 2>> OcspExportPaths(const X509* issuer,
                                                   std::span<const uint8_t> serial);

}  // namespace ca::crl_ocsp::exporter
