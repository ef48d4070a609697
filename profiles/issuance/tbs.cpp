#include "profiles/issuance/tbs.h"

#include <openssl/objects.h>

#include "profiles/issuance/dns_names.h"
#include "profiles/issuance/weak_key.h"

namespace ca::issuance {

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

ossl::Owned<GENERAL_NAME, GENERAL_NAME_free> MakeGeneralName(int type, std::string_view value) {
  ossl::Owned<GENERAL_NAME, GENERAL_NAME_free> gn(GENERAL_NAME_new());
  ossl::Owned<ASN1_IA5STRING, ASN1_IA5STRING_free> ia5(ASN1_IA5STRING_new());
  if (!gn || !ia5 ||
      ASN1_STRING_set(ia5.get(), value.data(), static_cast<int>(value.size())) != 1) {
    return nullptr;
  }
  GENERAL_NAME_set0_value(gn.get(), type, ia5.release());
  return gn;
}

// Adds `value` (an OpenSSL extension structure) as extension `nid`, encoded by OpenSSL.
Status AddExt(X509* x, int nid, void* value, bool critical, std::string_view what) {
  if (X509_add1_ext_i2d(x, nid, value, critical ? 1 : 0, X509V3_ADD_APPEND) != 1) {
    return CryptoFail("add " + std::string(what));
  }
  return Ok();
}

Status AddSubject(X509* x, const Profile& profile, const TbsRequest& r) {
  ossl::X509Name name(X509_NAME_new());
  if (!name) return CryptoFail("subject");
  auto add = [&](int nid, int type, const std::string& value) {
    return X509_NAME_add_entry_by_NID(name.get(), nid, type,
                                      reinterpret_cast<const unsigned char*>(value.c_str()),
                                      static_cast<int>(value.size()), -1, 0) == 1;
  };
  if (!add(NID_countryName, MBSTRING_ASC, r.organization.country) ||
      !add(NID_localityName, MBSTRING_UTF8, r.organization.locality) ||
      !add(NID_organizationName, MBSTRING_UTF8, r.organization.name)) {
    return CryptoFail("subject O/L/C");
  }
  if (auto cn = SubjectCommonName(profile, r.names);
      cn && !add(NID_commonName, MBSTRING_UTF8, *cn)) {
    return CryptoFail("subject CN");
  }
  if (X509_set_subject_name(x, name.get()) != 1) return CryptoFail("set subject");
  return Ok();
}

Status AddSignatureAlgorithm(X509* x, int nid) {
  // OpenSSL has no setter for the TBS signature AlgorithmIdentifier before signing; X509_sign
  // later writes the same value into both fields. Setting it now makes the TBS encodable, so it can
  // be linted and recorded byte for byte.
  int param_type = nid == NID_sha256WithRSAEncryption ? V_ASN1_NULL : V_ASN1_UNDEF;
  const X509_ALGOR* outer = nullptr;
  X509_get0_signature(nullptr, &outer, x);
  for (const X509_ALGOR* alg : {X509_get0_tbs_sigalg(x), outer}) {
    if (X509_ALGOR_set0(const_cast<X509_ALGOR*>(alg), OBJ_nid2obj(nid), param_type, nullptr) != 1) {
      return CryptoFail("set signature algorithm");
    }
  }
  return Ok();
}

Status AddKeyUsages(X509* x) {
  ossl::Owned<ASN1_BIT_STRING, ASN1_BIT_STRING_free> ku(ASN1_BIT_STRING_new());
  if (!ku || ASN1_BIT_STRING_set_bit(ku.get(), 0, 1) != 1 ||  // digitalSignature
      ASN1_BIT_STRING_set_bit(ku.get(), 2, 1) != 1) {         // keyEncipherment
    return CryptoFail("keyUsage");
  }
  CA_TRY_STATUS(AddExt(x, NID_key_usage, ku.get(), true, "keyUsage"));

  ossl::Owned<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free> eku(EXTENDED_KEY_USAGE_new());
  if (!eku || sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_server_auth)) <= 0) {
    return CryptoFail("extendedKeyUsage");
  }
  CA_TRY_STATUS(AddExt(x, NID_ext_key_usage, eku.get(), false, "extendedKeyUsage"));

  ossl::BasicConstraints bc(BASIC_CONSTRAINTS_new());
  if (!bc) return CryptoFail("basicConstraints");
  bc->ca = 0;
  return AddExt(x, NID_basic_constraints, bc.get(), true, "basicConstraints");
}

Status AddKeyIdentifiers(X509* x, const X509* issuer_cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  // Method 1 of RFC 5280 §4.2.1.2: SHA-1 of the subjectPublicKey BIT STRING value.
  if (X509_pubkey_digest(x, EVP_sha1(), md, &md_len) != 1) return CryptoFail("subject key id");
  ossl::Asn1OctetString ski(ASN1_OCTET_STRING_new());
  if (!ski || ASN1_OCTET_STRING_set(ski.get(), md, static_cast<int>(md_len)) != 1) {
    return CryptoFail("subject key id");
  }
  CA_TRY_STATUS(AddExt(x, NID_subject_key_identifier, ski.get(), false, "subjectKeyIdentifier"));

  const ASN1_OCTET_STRING* issuer_ski = X509_get0_subject_key_id(const_cast<X509*>(issuer_cert));
  ossl::Owned<AUTHORITY_KEYID, AUTHORITY_KEYID_free> akid(AUTHORITY_KEYID_new());
  if (!akid || issuer_ski == nullptr) return CryptoFail("authority key id");
  akid->keyid = ASN1_OCTET_STRING_dup(issuer_ski);
  if (akid->keyid == nullptr) return CryptoFail("authority key id");
  return AddExt(x, NID_authority_key_identifier, akid.get(), false, "authorityKeyIdentifier");
}

Status AddAccessLocations(X509* x, const Issuer& issuer) {
  ossl::Owned<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free> aia(AUTHORITY_INFO_ACCESS_new());
  if (!aia) return CryptoFail("authorityInfoAccess");
  for (auto [nid, url] : {std::pair{NID_ad_OCSP, &issuer.ocsp_url},
                          std::pair{NID_ad_ca_issuers, &issuer.ca_issuers_url}}) {
    ossl::Owned<ACCESS_DESCRIPTION, ACCESS_DESCRIPTION_free> ad(ACCESS_DESCRIPTION_new());
    auto location = MakeGeneralName(GEN_URI, *url);
    if (!ad || !location) return CryptoFail("authorityInfoAccess");
    ASN1_OBJECT_free(ad->method);
    ad->method = OBJ_nid2obj(nid);
    GENERAL_NAME_free(ad->location);
    ad->location = location.release();
    if (sk_ACCESS_DESCRIPTION_push(aia.get(), ad.get()) <= 0)
      return CryptoFail("authorityInfoAccess");
    ad.release();
  }
  CA_TRY_STATUS(AddExt(x, NID_info_access, aia.get(), false, "authorityInfoAccess"));

  ossl::Owned<CRL_DIST_POINTS, CRL_DIST_POINTS_free> dps(CRL_DIST_POINTS_new());
  ossl::Owned<DIST_POINT, DIST_POINT_free> dp(DIST_POINT_new());
  ossl::Owned<DIST_POINT_NAME, DIST_POINT_NAME_free> dpn(DIST_POINT_NAME_new());
  ossl::GeneralNames full_name(GENERAL_NAMES_new());
  auto uri = MakeGeneralName(GEN_URI, issuer.crl_url);
  if (!dps || !dp || !dpn || !full_name || !uri ||
      sk_GENERAL_NAME_push(full_name.get(), uri.get()) <= 0) {
    return CryptoFail("cRLDistributionPoints");
  }
  uri.release();
  dpn->type = 0;  // fullName
  dpn->name.fullname = full_name.release();
  dp->distpoint = dpn.release();
  if (sk_DIST_POINT_push(dps.get(), dp.get()) <= 0) return CryptoFail("cRLDistributionPoints");
  dp.release();
  return AddExt(x, NID_crl_distribution_points, dps.get(), false, "cRLDistributionPoints");
}

Status AddNamesAndPolicies(X509* x, const Profile& profile, const TbsRequest& r) {
  ossl::GeneralNames san(GENERAL_NAMES_new());
  if (!san) return CryptoFail("subjectAltName");
  for (const std::string& name : r.names) {
    auto gn = MakeGeneralName(GEN_DNS, name);
    if (!gn || sk_GENERAL_NAME_push(san.get(), gn.get()) <= 0) return CryptoFail("subjectAltName");
    gn.release();
  }
  CA_TRY_STATUS(AddExt(x, NID_subject_alt_name, san.get(), false, "subjectAltName"));

  ossl::Owned<CERTIFICATEPOLICIES, CERTIFICATEPOLICIES_free> policies(CERTIFICATEPOLICIES_new());
  if (!policies) return CryptoFail("certificatePolicies");
  for (const std::string& oid : profile.policy_oids) {
    ossl::Owned<POLICYINFO, POLICYINFO_free> info(POLICYINFO_new());
    ASN1_OBJECT* obj = OBJ_txt2obj(oid.c_str(), 1);
    if (!info || obj == nullptr) {
      ASN1_OBJECT_free(obj);
      return CryptoFail("certificatePolicies");
    }
    ASN1_OBJECT_free(info->policyid);
    info->policyid = obj;
    if (sk_POLICYINFO_push(policies.get(), info.get()) <= 0)
      return CryptoFail("certificatePolicies");
    info.release();
  }
  return AddExt(x, NID_certificate_policies, policies.get(), false, "certificatePolicies");
}

Status SetTime(ASN1_TIME* field, std::chrono::sys_seconds t) {
  if (ASN1_TIME_set(field, static_cast<time_t>(t.time_since_epoch().count())) == nullptr) {
    return CryptoFail("set validity");
  }
  return Ok();
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
                "profile " + std::string(policy::ProfileName(profile.id)) + " is disabled");
  }
  CA_TRY_STATUS(ValidateNames(profile, request.names));
  CA_TRY_STATUS(ValidateOrganization(request.organization));
  CA_TRY_STATUS(ValidateIssuer(issuer));
  CA_TRY_STATUS(CheckKeyParameters(request.public_key, profile));  // CheckCsr did the rest
  ValidityPeriod period = CA_TRY(ComputeValidity(profile, request));
  ossl::Asn1Integer serial = CA_TRY(SerialToAsn1(request.serial));
  int sig_nid = CA_TRY(SignatureNidFor(X509_get0_pubkey(issuer.certificate)));

  ossl::X509Ptr x(X509_new());
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(x.get(), serial.get()) != 1 ||
      X509_set_issuer_name(x.get(), X509_get_subject_name(issuer.certificate)) != 1 ||
      X509_set_pubkey(x.get(), const_cast<EVP_PKEY*>(request.public_key)) != 1) {
    return CryptoFail("build TBS");
  }
  CA_TRY_STATUS(SetTime(X509_getm_notBefore(x.get()), period.not_before));
  CA_TRY_STATUS(SetTime(X509_getm_notAfter(x.get()), period.not_after));
  CA_TRY_STATUS(AddSubject(x.get(), profile, request));
  CA_TRY_STATUS(AddKeyUsages(x.get()));
  CA_TRY_STATUS(AddKeyIdentifiers(x.get(), issuer.certificate));
  CA_TRY_STATUS(AddAccessLocations(x.get(), issuer));
  CA_TRY_STATUS(AddNamesAndPolicies(x.get(), profile, request));
  CA_TRY_STATUS(AddSignatureAlgorithm(x.get(), sig_nid));
  return x;
}

}  // namespace ca::issuance
