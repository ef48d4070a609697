// Full CRLs per issuer (RFC 5280 §5): version 2, AKI, CRL number, reasonCode per entry (absent for
// unspecified; certificateHold is never produced), optional invalidity date. Built to scale: one
// X509_REVOKED per entry, one sort, one signature, one DER encoding. The one CRL builder: the
// engine's CRLs, the status publish tool and the ceremony's root CRL all come from here.
#pragma once

#include <openssl/x509.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "common/openssl.h"
#include "common/result.h"
#include "pki/revocation_reason.h"
#include "pki/serial.h"

namespace ca::pki {

using Bytes = ossl::Bytes;
using Time = std::chrono::sys_seconds;

struct CrlEntry {
  Serial serial;
  Time revocation_time{};
  RevocationReason reason = RevocationReason::kUnspecified;  // unspecified: no reasonCode extension
  std::optional<Time> invalidity_date;  // when the key is known or suspected compromised
};

struct CrlRequest {
  const X509* issuer = nullptr;  // issuer name and AKI come from it
  EVP_PKEY* key = nullptr;       // the issuer's private key (HSM through the provider)
  uint64_t number = 0;           // from StatusStore::ReserveCrlNumber; > 0
  Time this_update{};
  Time next_update{};
  std::span<const CrlEntry> entries;  // any order; a serial may appear once
  const EVP_MD* digest = nullptr;     // nullptr: SHA-256
  // A CRL shard (a partitioned CRL): its URL, named in the critical Issuing Distribution Point
  // (fullName URI, onlyContainsUserCerts TRUE) and in the CRLDP of its certificates. Empty: no
  // IDP (the full CRL).
  std::string distribution_point = {};
};

// Returns the signed DER CRL (the request's digest with the key's algorithm).
Result<Bytes> BuildCrl(const CrlRequest& request);


// A CRL's Issuing Distribution Point as this CA writes it (RFC 5280 §5.2.5).
struct IssuingDistributionPoint {
  std::string url;              // the one fullName URI (empty: no distributionPoint or not a URI)
  bool critical = false;
  bool only_user_certs = false;
  bool other_fields = false;    // onlyCA / onlySomeReasons / indirectCRL / onlyAttribute / names
};
// nullopt: the CRL has no IDP. kInvalidArgument: an IDP that does not decode, or more than one.
Result<std::optional<IssuingDistributionPoint>> ReadIssuingDistributionPoint(const X509_CRL* crl);

// PEM ("BEGIN X509 CRL") of a DER CRL.
Result<std::string> CrlDerToPem(std::span<const uint8_t> der);

}  // namespace ca::pki
