#include "crl_ocsp/export/ocsp_get_path.h"

#include <openssl/ocsp.h>

#include "common/encoding.h"
#include "common/openssl.h"
#include "pki/serial.h"

namespace ca::crl_ocsp::exporter {

Result<Bytes> CanonicalOcspRequest(const X509* issuer, std::span<const uint8_t> serial,
                                   CertIdHash hash) {
  if (issuer == nullptr) return Fail(ErrorCode::kInvalidArgument, "issuer certificate required");
  pki::Serial s = CA_TRY(pki::Serial::FromBytes(serial));
  ossl::Asn1Integer number = CA_TRY(s.ToAsn1());
  ossl::OcspCertId id(OCSP_cert_id_new(CertIdMd(hash), X509_get_subject_name(issuer),
                                       X509_get0_pubkey_bitstr(issuer), number.get()));
  if (!id) return ossl::CryptoFail("build OCSP CertID");
  ossl::OcspRequest req(OCSP_REQUEST_new());
  if (!req) return ossl::CryptoFail("build OCSP request");
  if (OCSP_request_add0_id(req.get(), id.get()) == nullptr) {
    return ossl::CryptoFail("add CertID to OCSP request");
  }
  (void)id.release();  // owned by the request now
  int len = i2d_OCSP_REQUEST(req.get(), nullptr);
  if (len <= 0) return ossl::CryptoFail("encode OCSP request");
  Bytes der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  if (i2d_OCSP_REQUEST(req.get(), &p) != len) return ossl::CryptoFail("encode OCSP request");
  return der;
}

std::string OcspGetFilePath(std::span<const uint8_t> request_der) {
  std::string path = "ocsp/" + Base64Encode(request_der);
  if (path.ends_with('/')) path += kOcspIndexName;
  return path;
}

Result<std::array<std::string, 2>> OcspExportPaths(const X509* issuer,
                                                   std::span<const uint8_t> serial) {
  Bytes sha1 = CA_TRY(CanonicalOcspRequest(issuer, serial, CertIdHash::kSha1));
  Bytes sha256 = CA_TRY(CanonicalOcspRequest(issuer, serial, CertIdHash::kSha256));
  return std::array<std::string, 2>{OcspGetFilePath(sha1), OcspGetFilePath(sha256)};
}

}  // namespace ca::crl_ocsp::exporter
