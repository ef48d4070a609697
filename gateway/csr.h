// Finalize-time checks of a PKCS#10 CSR (RFC 8555 §7.4): signature, names equal to the order's,
// key RSA 3072 (ACME-9). The engine checks again (key reuse, profile rules); these give the client
// a precise badCSR early.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "gateway/jws.h"
#include "pki/serial.h"

namespace ca::gateway {

// The dNSNames of the CSR (subject CN and subjectAltName), lower-cased, deduplicated, sorted.
Result<std::vector<std::string>> CsrNames(const X509_REQ* csr);

// Parses and checks the CSR against the order's names; badCSR with the reason otherwise.
ProblemOr<ossl::X509Req> CheckCsr(std::span<const uint8_t> der, const std::vector<std::string>& order_names);

// TEMP(s13): removed after the merge; callers use pki::Serial::FromCert(cert)->Hex().
inline std::string CertificateSerialHex(const X509* cert) {
  auto serial = pki::Serial::FromCert(cert);
  return serial ? serial->Hex() : "";
}

}  // namespace ca::gateway
