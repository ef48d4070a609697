#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>

#include "common/encoding.h"
#include "common/openssl.h"
#include "gateway/validation/challenges.h"

namespace ca::gateway::validation {

namespace {

constexpr std::string_view kAcmeTlsAlpn = "acme-tls/1";
constexpr const char* kAcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";

// Checks the certificate a tls-alpn-01 responder presented (RFC 8737 §3).
Outcome CheckCertificate(X509* cert, const std::string& name,
                         const std::string& key_authorization) {
  // Exactly one subjectAltName entry, a dNSName equal to the name.
  int crit = 0;
  ossl::GeneralNames sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr)));
  if (!sans) {
    return Outcome::Invalid(ProblemType::kUnauthorized,
                            "tls-alpn-01 certificate for " + name + " has no subjectAltName");
  }
  if (sk_GENERAL_NAME_num(sans.get()) != 1) {
    return Outcome::Invalid(ProblemType::kUnauthorized,
                            "tls-alpn-01 certificate for " + name + " has " +
                                std::to_string(sk_GENERAL_NAME_num(sans.get())) +
                                " subjectAltName entries, expected exactly one");
  }
  const GENERAL_NAME* san = sk_GENERAL_NAME_value(sans.get(), 0);
  if (san->type != GEN_DNS) {
    return Outcome::Invalid(ProblemType::kUnauthorized,
                            "tls-alpn-01 certificate SAN is not a dNSName");
  }
  std::string_view dns(reinterpret_cast<const char*>(ASN1_STRING_get0_data(san->d.dNSName)),
                       static_cast<size_t>(ASN1_STRING_length(san->d.dNSName)));
  auto normalized = NormalizeDnsName(dns);
  if (!normalized || *normalized != name || dns.ends_with(".")) {
    return Outcome::Invalid(
        ProblemType::kUnauthorized,
        "tls-alpn-01 certificate SAN \"" + Excerpt(dns) + "\" does not match " + name);
  }

  // Exactly one acmeIdentifier extension, critical, an OCTET STRING with SHA-256(key
  // authorization).
  ossl::Asn1Object oid(OBJ_txt2obj(kAcmeIdentifierOid, 1));
  if (!oid) return Outcome::Invalid(ProblemType::kTls, "OBJ_txt2obj: " + ossl::DrainErrors());
  int index = X509_get_ext_by_OBJ(cert, oid.get(), -1);
  if (index < 0) {
    return Outcome::Invalid(ProblemType::kUnauthorized, "tls-alpn-01 certificate for " + name +
                                                            " lacks the acmeIdentifier extension");
  }
  if (X509_get_ext_by_OBJ(cert, oid.get(), index) >= 0) {
    return Outcome::Invalid(ProblemType::kUnauthorized,
                            "tls-alpn-01 certificate has two acmeIdentifier extensions");
  }
  X509_EXTENSION* ext = X509_get_ext(cert, index);
  if (X509_EXTENSION_get_critical(ext) != 1) {
    return Outcome::Invalid(ProblemType::kUnauthorized,
                            "tls-alpn-01 acmeIdentifier extension is not critical");
  }
  const ASN1_OCTET_STRING* ext_value = X509_EXTENSION_get_data(ext);
  const unsigned char* p = ASN1_STRING_get0_data(ext_value);
  const long len = ASN1_STRING_length(ext_value);
  ossl::Asn1OctetString digest(d2i_ASN1_OCTET_STRING(nullptr, &p, len));
  if (!digest || p != ASN1_STRING_get0_data(ext_value) + len) {
    ERR_clear_error();
    return Outcome::Invalid(ProblemType::kUnauthorized,
                            "tls-alpn-01 acmeIdentifier extension is not a DER OCTET STRING");
  }
  const Bytes expected = Sha256(key_authorization);
  if (static_cast<size_t>(ASN1_STRING_length(digest.get())) != expected.size() ||
      std::memcmp(ASN1_STRING_get0_data(digest.get()), expected.data(), expected.size()) != 0) {
    return Outcome::Invalid(
        ProblemType::kIncorrectResponse,
        "tls-alpn-01 acmeIdentifier for " + name + " does not match the key authorization");
  }
  return Outcome::Valid("tls-alpn-01 certificate for " + name + " matches");
}

}  // namespace

Outcome CheckTlsAlpn01(const Perspective& p, const std::string& name,
                       const std::string& key_authorization) {
  auto dialed = Dial(p, name, p.config.tlsalpn01_port);
  if (auto* outcome = std::get_if<Outcome>(&dialed)) return *outcome;
  auto& [conn, deadline] = std::get<Dialed>(dialed);
  if (auto tls = conn.StartTls(name, kAcmeTlsAlpn, deadline); !tls)
    return NetErrorOutcome(tls.error());
  const unsigned char* selected = nullptr;
  unsigned selected_len = 0;
  SSL_get0_alpn_selected(conn.ssl(), &selected, &selected_len);
  if (std::string_view(reinterpret_cast<const char*>(selected), selected_len) != kAcmeTlsAlpn) {
    return Outcome::Invalid(ProblemType::kTls, "tls-alpn-01 responder at " + conn.peer() +
                                                   " did not negotiate the acme-tls/1 protocol");
  }
  ossl::X509Ptr cert(SSL_get1_peer_certificate(conn.ssl()));
  if (!cert)
    return Outcome::Invalid(ProblemType::kTls, "tls-alpn-01 responder sent no certificate");
  return CheckCertificate(cert.get(), name, key_authorization);
}

}  // namespace ca::gateway::validation
