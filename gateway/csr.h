// Finalize-time reading of a PKCS#10 CSR (RFC 8555 §7.4) through pki/csr.h: the same decoding,
// signature and name rules as the engine, so a CSR the engine would refuse for its names is
// refused here with badCSR and the order stays ready. The engine checks again with the profile.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "gateway/jws.h"
#include "pki/csr.h"
#include "pki/serial.h"

namespace ca::gateway {

// pki::ReadCsr + pki::CheckCsrNames against the order's names, plus the key rule below; badCSR
// with pki's one-line reason otherwise.
// TODO(s13 defect 2): the key rule is RSA 3072 until the gateway checks the order's profile.
ProblemOr<pki::CsrFacts> CheckCsr(std::span<const uint8_t> der,
                                  const std::vector<std::string>& order_names);

}  // namespace ca::gateway
