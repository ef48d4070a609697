#include "profiles/issuance/tbs.h"

#include <openssl/objects.h>

#include "pki/cert_builder.h"
#include "profiles/issuance/dns_names.h"
#include "profiles/issuance/weak_key.h"

namespace ca::profiles::issuance {

namespace {

using ossl::CryptoFail;

std::unexpected<Error> Bad(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, std::move(message));
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xc0) != 0x80) ++n;
  }
  return n;
}

Status ValidateText(std::string_view field, std::string_view value, size_t max_chars) {
  if (value.empty()) return Bad("organization " + std::string(field) + ": empty");
  if (Utf8Length(value) > max_chars) {
    return Bad("organization " + std::string(field) + ": longer than " + std::to_string(max_chars) +
               " characters");
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f)
      return Bad("organization " + std::string(field) + ": control character");
  }
  return Ok();
}

Status ValidateHttpUrl(std::string_view field, std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme) || url.size() == kScheme.size() || url[kScheme.size()] == '/') {
    return Bad("issuer " + std::string(field) + ": must be an http:// URL with a host");
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f) return Bad("issuer " + std::string(field) + ": invalid character");
  }
  return Ok();
}

// C (PrintableString), L, O, then the CN when one fits (UTF8String).
std::vector<pki::NameAttribute> SubjectAttributes(const Profile& profile, const TbsRequest& r) {
  std::vector<pki::NameAttribute> out{{"C", r.organization.country, MBSTRING_ASC},
                                      {"L", r.organization.locality, MBSTRING_UTF8},
                                      {"O", r.organization.name, MBSTRING_UTF8}};
  if (auto cn = SubjectCommonName(profile, r.names)) out.push_back({"CN", *cn, MBSTRING_UTF8});
  return out;
}

// CA-4: exactly these extensions (the CRL distribution point when the profile has one), in this order (the golden certificates pin the bytes), the
// subjectKeyIdentifier being inserted at kSubjectKeyIdAt by the builder.
constexpr size_t kSubjectKeyIdAt = 3;
Result<std::vector<ossl::X509Ext>> Extensions(const Profile& profile, const Issuer& issuer,
                                              const TbsRequest& r) {
  // keyEncipherment only for an RSA key (TLS 1.2 RSA key exchange encrypts to it); an ECDSA key
  // (an operator's profile) signs only.
  static constexpr pki::KeyUsageBit kRsaUsage[] = {pki::kDigitalSignature, pki::kKeyEncipherment};
  static constexpr pki::KeyUsageBit kEcUsage[] = {pki::kDigitalSignature};
  bool ec_key = r.public_key != nullptr && EVP_PKEY_is_a(r.public_key, "EC") == 1;
  std::span<const pki::KeyUsageBit> usage = ec_key ? std::span<const pki::KeyUsageBit>(kEcUsage)
                                                   : std::span<const pki::KeyUsageBit>(kRsaUsage);
  static constexpr int kServerAuth[] = {NID_server_auth};
  const ASN1_OCTET_STRING* issuer_ski =
      X509_get0_subject_key_id(const_cast<X509*>(issuer.certificate));
  if (issuer_ski == nullptr) return CryptoFail("authority key id");
  std::span<const uint8_t> issuer_key_id(ASN1_STRING_get0_data(issuer_ski),
                                         static_cast<size_t>(ASN1_STRING_length(issuer_ski)));
  std::vector<ossl::X509Ext> out;
  out.push_back(CA_TRY(pki::KeyUsageExt(usage)));
  out.push_back(CA_TRY(pki::ExtendedKeyUsageExt(kServerAuth)));
  out.push_back(CA_TRY(pki::BasicConstraintsExt(false, std::nullopt)));
  // subjectKeyIdentifier comes here (kSubjectKeyIdAt), from the key as the certificate encodes it.
  out.push_back(CA_TRY(pki::AuthorityKeyIdExt(issuer_key_id)));
  // The profile decides its revocation pointers (profile.h RevocationInfo): without OCSP the AIA
  // keeps caIssuers alone; without CRL (short-lived) there is no cRLDistributionPoints. With CRL,
  // the distribution point is the certificate's own shard when it has one (CrlUrlOf).
  out.push_back(CA_TRY(pki::AuthorityInfoAccessExt(
      profile.revocation.ocsp ? issuer.ocsp_url : std::string(), issuer.ca_issuers_url)));
  if (profile.revocation.crl)
    out.push_back(CA_TRY(pki::CrlDistributionPointExt(CrlUrlOf(issuer, r))));
  out.push_back(CA_TRY(pki::SubjectAltNameExt(r.names)));
  out.push_back(CA_TRY(pki::CertificatePoliciesExt(profile.policy_oids)));
  return out;
}

}  // namespace

Status ValidateOrganization(const Organization& org) {
  CA_TRY_STATUS(ValidateText("name", org.name, 64));
  CA_TRY_STATUS(ValidateText("locality", org.locality, 128));
  if (org.country.size() != 2 || org.country[0] < 'A' || org.country[0] > 'Z' ||
      org.country[1] < 'A' || org.country[1] > 'Z') {
    return Bad("organization country: must be an ISO 3166-1 alpha-2 code in upper case");
  }
  return Ok();
}

Status ValidateIssuer(const Issuer& issuer) {
  if (issuer.certificate == nullptr) return Bad("issuer: no certificate");
  X509* cert = const_cast<X509*>(issuer.certificate);
  if (X509_check_ca(cert) == 0) return Bad("issuer: the certificate is not a CA certificate");
  if (X509_get0_subject_key_id(cert) == nullptr) {
    return Bad("issuer: the certificate has no subjectKeyIdentifier");
  }
  CA_TRY_STATUS(ValidateHttpUrl("ocsp_url", issuer.ocsp_url));
  CA_TRY_STATUS(ValidateHttpUrl("ca_issuers_url", issuer.ca_issuers_url));
  CA_TRY_STATUS(ValidateHttpUrl("crl_url", issuer.crl_url));
  return Ok();
}

const std::string& CrlUrlOf(const Issuer& issuer, const TbsRequest& request) {
  return request.crl_url.empty() ? issuer.crl_url : request.crl_url;
}

Result<ValidityPeriod> ComputeValidity(const Profile& profile, const TbsRequest& request) {
  std::chrono::seconds validity = request.validity.value_or(profile.max_validity);
  if (validity <= std::chrono::seconds(0)) return Bad("validity: must be positive");
  if (validity > profile.max_validity) {
    return Bad("validity: " + std::to_string(validity.count()) + " s exceeds the profile's " +
               std::to_string(profile.max_validity.count()) + " s");
  }
  ValidityPeriod period;
  period.not_before = request.now - profile.backdate;
  period.not_after = period.not_before + validity - std::chrono::seconds(1);
  return period;
}

std::optional<std::string> SubjectCommonName(const Profile& profile,
                                             std::span<const std::string> names) {
  for (const std::string& name : names) {
    std::string cn = std::string(profile.SubjectCnPrefix()) + name;
    if (cn.size() <= 64) return cn;
  }
  if (profile.environment == Environment::kStaging) return std::string("TEST");
  return std::nullopt;
}

Result<int> SignatureNidFor(const EVP_PKEY* issuer_key) {
  if (issuer_key != nullptr && EVP_PKEY_is_a(issuer_key, "RSA") == 1)
    return NID_sha256WithRSAEncryption;
  if (issuer_key != nullptr && EVP_PKEY_is_a(issuer_key, "EC") == 1) return NID_ecdsa_with_SHA256;
  return Bad("issuer: the CA key must be RSA or EC");
}

Result<ossl::X509Ptr> BuildTbs(const Profile& profile, const Issuer& issuer,
                               const TbsRequest& request) {
  if (!profile.enabled) {
    return Fail(ErrorCode::kPermissionDenied,
                "profile " + std::string(profiles::policy::ProfileName(profile.id)) + " is disabled");
  }
  CA_TRY_STATUS(ValidateNames(profile, request.names));
  CA_TRY_STATUS(ValidateOrganization(request.organization));
  CA_TRY_STATUS(ValidateIssuer(issuer));
  if (!request.crl_url.empty()) CA_TRY_STATUS(ValidateHttpUrl("crl_url (shard)", request.crl_url));
  CA_TRY_STATUS(CheckKeyParameters(request.public_key, profile));  // CheckCsr did the rest
  ValidityPeriod period = CA_TRY(ComputeValidity(profile, request));
  CA_TRY_STATUS(request.serial.Validate());
  ossl::Asn1Integer serial = CA_TRY(request.serial.ToAsn1());
  int sig_nid = CA_TRY(SignatureNidFor(X509_get0_pubkey(issuer.certificate)));

  ossl::X509Name subject = CA_TRY(pki::BuildName(SubjectAttributes(profile, request)));
  pki::CertDescription description{serial.get(),
                                   subject.get(),
                                   X509_get_subject_name(issuer.certificate),
                                   request.public_key,
                                   period.not_before,
                                   period.not_after,
                                   CA_TRY(Extensions(profile, issuer, request)),
                                   kSubjectKeyIdAt};
  description.public_key_info = request.public_key_info;
  return pki::BuildUnsignedCertificate(description, sig_nid);
}

}  // namespace ca::profiles::issuance
