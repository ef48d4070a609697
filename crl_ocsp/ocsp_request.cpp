#include "crl_ocsp/ocsp_request.h"

#include <openssl/ocsp.h>

#include <cstring>

#include "common/encoding.h"

namespace ca::crl_ocsp {

namespace {

ParsedOcspRequest Problem(OcspError error, std::string_view why) {
  ParsedOcspRequest out;
  out.error = error;
  out.problem = why;
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

ParsedOcspRequest ParseOcspRequest(std::span<const uint8_t> der) {
  if (der.empty()) return Problem(OcspError::kMalformedRequest, "empty request");
  if (der.size() > kMaxOcspRequestBytes) {
    return Problem(OcspError::kMalformedRequest, "request larger than 1024 bytes");
  }
  const unsigned char* p = der.data();
  ossl::OcspRequest req(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(der.size())));
  if (!req) {
    ossl::DrainErrors();
    return Problem(OcspError::kMalformedRequest, "not a DER OCSPRequest (truncated or garbage)");
  }
  if (p != der.data() + der.size()) {
    return Problem(OcspError::kMalformedRequest, "trailing bytes after the OCSPRequest");
  }
  int count = OCSP_request_onereq_count(req.get());
  if (count == 0) return Problem(OcspError::kMalformedRequest, "request without a CertID");
  if (count > 1) {
    return Problem(OcspError::kMalformedRequest, "more than one CertID (RFC 5019 allows one)");
  }
  OCSP_CERTID* id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req.get(), 0));
  ASN1_OCTET_STRING *name_hash = nullptr, *key_hash = nullptr;
  ASN1_OBJECT* alg = nullptr;
  ASN1_INTEGER* serial = nullptr;
  if (OCSP_id_get0_info(&name_hash, &alg, &key_hash, &serial, id) != 1) {
    return Problem(OcspError::kMalformedRequest, "unreadable CertID");
  }
  ParsedOcspRequest out;
  int nid = OBJ_obj2nid(alg);
  size_t expected_len = 0;
  if (nid == NID_sha1) {
    out.query.hash = CertIdHash::kSha1;
    expected_len = 20;
  } else if (nid == NID_sha256) {
    out.query.hash = CertIdHash::kSha256;
    expected_len = 32;
  } else {
    return Problem(OcspError::kUnauthorized, "CertID hash algorithm is not SHA-1 or SHA-256");
  }
  if (static_cast<size_t>(ASN1_STRING_length(name_hash)) != expected_len ||
      static_cast<size_t>(ASN1_STRING_length(key_hash)) != expected_len) {
    return Problem(OcspError::kMalformedRequest, "CertID hash length does not fit its algorithm");
  }
  out.query.hash_len = expected_len;
  std::memcpy(out.query.name_hash.data(), ASN1_STRING_get0_data(name_hash), expected_len);
  std::memcpy(out.query.key_hash.data(), ASN1_STRING_get0_data(key_hash), expected_len);

  const uint8_t* s = ASN1_STRING_get0_data(serial);
  size_t len = static_cast<size_t>(ASN1_STRING_length(serial));
  while (len > 0 && *s == 0) {
    ++s;
    --len;
  }
  if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER || len == 0 || len > out.query.serial.size()) {
    return Problem(OcspError::kUnauthorized, "serial number this CA never issues");
  }
  std::memcpy(out.query.serial.data(), s, len);
  out.query.serial_len = len;
  out.query.has_nonce = OCSP_REQUEST_get_ext_by_NID(req.get(), NID_id_pkix_OCSP_Nonce, -1) >= 0;
  return out;
}

std::optional<Bytes> DecodeOcspGetPath(std::string_view encoded) {
  // base64 of 1 KiB is 1368 characters; %-encoding at most triples that.
  if (encoded.empty() || encoded.size() > 3 * 1368) return std::nullopt;
  std::string text;
  text.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    char c = encoded[i];
    if (c == '%') {
      if (i + 2 >= encoded.size()) return std::nullopt;
      int hi = HexValue(encoded[i + 1]), lo = HexValue(encoded[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi << 4 | lo);
      i += 2;
    }
    // URL alphabet to standard; a '+' turned into a space by a form decoder comes back.
    if (c == '-' || c == ' ') c = '+';
    if (c == '_') c = '/';
    text.push_back(c);
  }
  if (text.size() > 1368) return std::nullopt;  // Base64Decode strips trailing '='
  auto der = Base64Decode(text);
  if (!der) return std::nullopt;
  return std::move(*der);
}

}  // namespace ca::crl_ocsp
