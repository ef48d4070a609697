// Finalize-time reading of a PKCS#10 CSR (RFC 8555 §7.4) through pki/csr.h: the same decoding,
// signature and name rules as the engine, so a CSR the engine would refuse for its names is
// refused here with badCSR and the order stays ready. The subscriber key follows the order's
// profile on both sides; the engine checks everything again (and key reuse) before it signs.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/openssl.h"
#include "gateway/jws.h"
#include "pki/csr.h"
#include "profiles/issuance/profile.h"

namespace ca::gateway {

// The result code a CSR key refusal starts with: the technical document lists none for a key
// type or size ("Only key length 3072 is supported"), and this one says the certificate could not
// be generated from the request.
inline constexpr std::string_view kWrongKeyResultCode = "ACME_ORDER_FINALIZE_ERROR";

// pki::ReadCsr + pki::CheckCsrNames against the order's names, then the order's certificate
// profile's key rule (profiles::issuance::CheckSubscriberKey: type, size, exponent, weak keys), the
// same function the engine applies; badCSR with the one-line reason otherwise (a key refusal
// prefixed "ACME_ORDER_FINALIZE_ERROR: "). `account_key` (the
// ACME account's key, may be null) must not be the CSR's key: RFC 8555 §11.1, a certificate key is
// never the account key (the engine's key index holds certified keys only).
ProblemOr<pki::CsrFacts> CheckCsr(std::span<const uint8_t> der,
                                  const std::vector<std::string>& order_names,
                                  const profiles::issuance::Profile& profile,
                                  EVP_PKEY* account_key = nullptr);

}  // namespace ca::gateway
