// Full CRLs per issuer (RFC 5280 §5): version 2, AKI, CRL number, reasonCode per entry (absent for
// unspecified; certificateHold is never produced), optional invalidity date. Built to scale: one
// X509_REVOKED per entry, one sort, one signature, one DER encoding.
#pragma once

#include <openssl/x509.h>

#include <cstdint>
#include <optional>
#include <span>

#include "common/result.h"
#include "crl_ocsp/revocation.h"

namespace ca::status {

struct CrlEntry {
  Serial serial;
  Time revocation_time{};
  RevocationReason reason = RevocationReason::kUnspecified;
  std::optional<Time> invalidity_date;  // when the key is known or suspected compromised
};

struct CrlRequest {
  const X509* issuer = nullptr;  // issuer name and AKI come from it
  EVP_PKEY* key = nullptr;       // the issuer's private key (HSM through the provider)
  uint64_t number = 0;           // from StatusStore::ReserveCrlNumber; > 0
  Time this_update{};
  Time next_update{};
  std::span<const CrlEntry> entries;  // any order; a serial may appear once
};

// Returns the signed DER CRL (SHA-256 with the key's algorithm).
Result<Bytes> BuildCrl(const CrlRequest& request);

}  // namespace ca::status
