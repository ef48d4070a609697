#include "appliance/ceremony/certs.h"

#include <openssl/pem.h>

#include <algorithm>
#include <chrono>

#include "common/encoding.h"
#include "pki/cert_builder.h"
#include "pki/crl_builder.h"
#include "pki/lint.h"
#include "pki/revocation_reason.h"
#include "pki/serial.h"

namespace ca::appliance::ceremony {

namespace {

using ossl::CryptoFail;
using std::chrono::seconds;
using std::chrono::sys_seconds;

sys_seconds At(time_t t) {
  return sys_seconds(seconds(t));
}

Bytes KeyIdOf(const X509* cert) {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(const_cast<X509*>(cert));
  if (ski == nullptr) return {};
  return Bytes(ASN1_STRING_get0_data(ski), ASN1_STRING_get0_data(ski) + ASN1_STRING_length(ski));
}

// Whether the key matches the certificate is the runner's check (it compares the token's public
// key); an HSM-backed EVP_PKEY need not support comparisons. Lint verifies every signature.
Status CheckIssuer(const CertIssuer& issuer) {
  if (issuer.certificate == nullptr || issuer.key == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, "issuer certificate and key are required");
  }
  return Ok();
}

// The fields every ceremony certificate shares; extensions in the order subjectKeyIdentifier (the
// token's CKA_ID, or for a software key the RFC 5280 method 1 SHA-1 the token also uses),
// `before`, authorityKeyIdentifier, `after`. `issuer` nullptr: self-signed with `key`.
Result<ossl::X509Ptr> Build(const CertSubject& s, const X509* issuer, EVP_PKEY* key,
                            std::vector<ossl::X509Ext> before,
                            std::vector<ossl::X509Ext> after = {}) {
  if (s.public_key == nullptr) return Fail(ErrorCode::kInvalidArgument, "no public key");
  std::vector<pki::NameAttribute> attributes;
  for (const auto& [field, value] : s.subject.attributes) attributes.push_back({field, value});
  ossl::X509Name name = CA_TRY(pki::BuildName(attributes));
  Bytes key_id = s.key_id.empty() ? CA_TRY(pki::KeyIdentifierOf(s.public_key)) : s.key_id;
  ossl::Asn1Integer serial = CA_TRY(pki::Serial::Generate().ToAsn1());
  pki::CertDescription d{serial.get(),
                         name.get(),
                         issuer != nullptr ? X509_get_subject_name(issuer) : nullptr,
                         s.public_key,
                         At(s.not_before),
                         At(s.not_after),
                         {}};
  d.extensions.push_back(CA_TRY(pki::SubjectKeyIdExt(key_id)));
  for (auto& ext : before) d.extensions.push_back(std::move(ext));
  // authorityKeyIdentifier: the issuer's subjectKeyIdentifier (the root's own).
  d.extensions.push_back(
      CA_TRY(pki::AuthorityKeyIdExt(issuer != nullptr ? KeyIdOf(issuer) : key_id)));
  for (auto& ext : after) d.extensions.push_back(std::move(ext));
  return pki::BuildSignedCertificate(d, key);
}

template <class... R>
Result<std::vector<ossl::X509Ext>> All(R&&... results) {
  std::vector<ossl::X509Ext> out;
  for (auto* r : {&results...}) {
    if (!*r) return std::unexpected(r->error());
    out.push_back(std::move(**r));
  }
  return out;
}

// "YYYYMMDDHHMMSSZ" (the config's form) or empty (`otherwise`).
Result<sys_seconds> RevocationTime(const std::string& text, time_t otherwise) {
  if (text.empty()) return At(otherwise);
  ossl::Asn1Time t(ASN1_TIME_new());
  struct tm tm {};
  if (!t || ASN1_TIME_set_string_X509(t.get(), text.c_str()) != 1 ||
      ASN1_TIME_to_tm(t.get(), &tm) != 1) {
    return CryptoFail("revocation date " + text);
  }
  return At(timegm(&tm));
}

}  // namespace

std::string NameText(const X509_NAME* name) {
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string CertSha256Fingerprint(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return "";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    if (i > 0) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

std::string_view CeremonyRoleName(pki::CertRole role) {
  return role == pki::CertRole::kLeaf ? "tls-server" : pki::CertRoleName(role);
}

std::optional<pki::CertRole> ParseCeremonyRole(std::string_view name) {
  for (auto role : {pki::CertRole::kRoot, pki::CertRole::kIntermediate, pki::CertRole::kOcspSigner,
                    pki::CertRole::kLeaf}) {
    if (name == CeremonyRoleName(role)) return role;
  }
  return std::nullopt;
}

Result<ossl::X509Ptr> BuildRootCertificate(const CertSubject& subject, EVP_PKEY* root_key) {
  static constexpr pki::KeyUsageBit kCa[] = {pki::kKeyCertSign, pki::kCrlSign};
  auto exts = CA_TRY(All(pki::BasicConstraintsExt(true, 1), pki::KeyUsageExt(kCa)));
  return Build(subject, nullptr, root_key, std::move(exts));
}

Result<ossl::X509Ptr> BuildIntermediateCertificate(const CertSubject& subject,
                                                   const IntermediateExtras& extras,
                                                   const CertIssuer& issuer) {
  CA_TRY_STATUS(CheckIssuer(issuer));
  static constexpr pki::KeyUsageBit kCa[] = {pki::kKeyCertSign, pki::kCrlSign};
  static constexpr int kServerAuth[] = {NID_server_auth};
  auto exts = CA_TRY(All(pki::BasicConstraintsExt(true, 0), pki::KeyUsageExt(kCa),
                         pki::ExtendedKeyUsageExt(kServerAuth)));
  std::vector<ossl::X509Ext> tail =
      CA_TRY(All(pki::CrlDistributionPointExt(extras.crl_url),
                 pki::AuthorityInfoAccessExt("", extras.ca_issuers_url)));
  if (!extras.permitted_dns.empty() || !extras.excluded_dns.empty()) {
    tail.push_back(CA_TRY(pki::NameConstraintsExt(extras.permitted_dns, extras.excluded_dns)));
  }
  return Build(subject, issuer.certificate, issuer.key, std::move(exts), std::move(tail));
}

Result<ossl::X509Ptr> BuildOcspSignerCertificate(const CertSubject& subject,
                                                 const CertIssuer& issuer) {
  CA_TRY_STATUS(CheckIssuer(issuer));
  static constexpr pki::KeyUsageBit kSign[] = {pki::kDigitalSignature};
  static constexpr int kOcsp[] = {NID_OCSP_sign};
  auto exts = CA_TRY(All(pki::BasicConstraintsExt(false, std::nullopt), pki::KeyUsageExt(kSign),
                         pki::ExtendedKeyUsageExt(kOcsp)));
  // RFC 6960 §4.2.2.2.1: clients need not check the responder certificate's own status.
  auto tail = CA_TRY(All(pki::OcspNoCheckExt()));
  return Build(subject, issuer.certificate, issuer.key, std::move(exts), std::move(tail));
}

Result<ossl::X509Ptr> BuildTlsServerCertificate(const CertSubject& subject,
                                                const SubjectAltNames& names,
                                                const CertIssuer& issuer) {
  CA_TRY_STATUS(CheckIssuer(issuer));
  if (subject.public_key == nullptr) return Fail(ErrorCode::kInvalidArgument, "no public key");
  // RSA key exchange (TLS 1.2 without forward secrecy) encrypts to the key; ECDSA only signs.
  static constexpr pki::KeyUsageBit kRsa[] = {pki::kDigitalSignature, pki::kKeyEncipherment};
  static constexpr pki::KeyUsageBit kEc[] = {pki::kDigitalSignature};
  static constexpr int kServerAuth[] = {NID_server_auth};
  bool rsa = EVP_PKEY_is_a(subject.public_key, "RSA");
  auto exts = CA_TRY(All(pki::BasicConstraintsExt(false, std::nullopt),
                         pki::KeyUsageExt(rsa ? std::span<const pki::KeyUsageBit>(kRsa)
                                              : std::span<const pki::KeyUsageBit>(kEc)),
                         pki::ExtendedKeyUsageExt(kServerAuth)));
  auto tail = CA_TRY(All(pki::SubjectAltNameExt(names.dns_names, names.ip_addresses)));
  return Build(subject, issuer.certificate, issuer.key, std::move(exts), std::move(tail));
}

Status CheckNamesAllowedByIssuer(const SubjectAltNames& names, const X509* issuer) {
  auto check = [&](const std::string& field, size_t i, const std::string& name, bool ip) -> Status {
    // An unsigned certificate that holds only this name, checked like the real one.
    std::vector<std::string> one{name};
    ossl::X509Ext san = CA_TRY(ip ? pki::SubjectAltNameExt({}, one) : pki::SubjectAltNameExt(one));
    ossl::X509Ptr probe(X509_new());
    if (!probe || X509_add_ext(probe.get(), san.get(), -1) != 1) return CryptoFail("X509_new");
    auto allowed = pki::CheckNameConstraints(probe.get(), issuer);
    if (allowed) return Ok();
    return Fail(ErrorCode::kInvalidArgument,
                field + "[" + std::to_string(i) + "]: '" + name +
                    "' is not allowed by the issuer's name constraints (" +
                    allowed.error().message + ")");
  };
  for (size_t i = 0; i < names.dns_names.size(); ++i) {
    CA_TRY_STATUS(check("dns_names", i, names.dns_names[i], false));
  }
  for (size_t i = 0; i < names.ip_addresses.size(); ++i) {
    CA_TRY_STATUS(check("ip_addresses", i, names.ip_addresses[i], true));
  }
  return Ok();
}

Result<ossl::Pkey> GenerateSoftwareKey(hsm::KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case hsm::KeyType::kRsa3072:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{3072});
      break;
    case hsm::KeyType::kRsa4096:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{4096});
      break;
    case hsm::KeyType::kEcP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case hsm::KeyType::kEcP384:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
  }
  if (key == nullptr) return CryptoFail("generate " + std::string(KeyTypeLabel(type)) + " key");
  return ossl::Pkey(key);
}

Result<Secret> PrivateKeyToPkcs8Pem(const EVP_PKEY* key) {
  ossl::Bio bio(BIO_new(BIO_s_secmem()));
  if (!bio ||
      PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return CryptoFail("encode private key");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return Secret(std::string(data, static_cast<size_t>(len)));
}

Result<Bytes> BuildRootCrl(const CrlParams& params, const CertIssuer& issuer) {
  CA_TRY_STATUS(CheckIssuer(issuer));
  std::vector<pki::CrlEntry> entries;
  for (const RevokedEntry& r : params.revoked) {
    pki::CrlEntry e;
    e.serial = CA_TRY(pki::Serial::FromOperatorHex(r.serial_hex));
    e.revocation_time = CA_TRY(RevocationTime(r.revocation_date, params.this_update));
    e.reason = CA_TRY(pki::ReasonFromCode(r.reason < 0 ? 0 : r.reason));
    entries.push_back(std::move(e));
  }
  pki::CrlRequest request{issuer.certificate,
                          issuer.key,
                          params.crl_number,
                          At(params.this_update),
                          At(params.next_update),
                          entries,
                          pki::DigestForKey(issuer.key)};
  return pki::BuildCrl(request);
}

}  // namespace ca::appliance::ceremony
