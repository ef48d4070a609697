// The last check before a CRL replaces the published one. Refuses a CRL that
//  - does not parse, is not from the issuer, or does not verify under the issuer's key;
//  - has no CRL number, or a number not greater than the current CRL's;
//  - has a thisUpdate older than the current CRL's;
//  - drops an entry of the current CRL before a CRL issued after that certificate's expiry has
//    listed it (RFC 5280 §3.3: entries may leave only once the certificate has expired);
//  - does not fit its scope: the full CRL has no Issuing Distribution Point; a shard's is
//    critical, onlyContainsUserCerts, and names the shard's URL (the URL in its certificates'
//    CRLDP), so a shard can never replace another scope's CRL.
#pragma once

#include <openssl/x509.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"
#include "crl_ocsp/crl_scope.h"
#include "crl_ocsp/revocation.h"

namespace ca::crl_ocsp {

struct CrlInfo {
  uint64_t number = 0;
  Time this_update{};
  Time next_update{};
  size_t entries = 0;
};

// Parses a DER CRL, checks it names `issuer` and verifies under its key; returns its fields.
Result<CrlInfo> InspectCrl(std::span<const uint8_t> der, const X509* issuer);

// Certificate notAfter by serial (pki::Serial::Hex()), for the entries of the current CRL.
using NotAfterBySerial = std::unordered_map<std::string, Time>;

// `current` is the published CRL of the same scope (nullopt for the first one). `shard_url`: the
// URL a shard's IDP must name; empty: any URL that is a shard URL of this shard number
// (CrlScopeUrl(<full CRL URL>, scope)). Returns the new CRL's fields.
Result<CrlInfo> CheckCrlPublish(std::span<const uint8_t> new_der,
                                std::optional<std::span<const uint8_t>> current, const X509* issuer,
                                const NotAfterBySerial& not_after, CrlScope scope = {},
                                std::string_view shard_url = {});

// The Issuing Distribution Point rule alone (kFailedPrecondition naming what is wrong).
Status CheckCrlScope(const X509_CRL* crl, CrlScope scope, std::string_view shard_url = {});

}  // namespace ca::crl_ocsp
