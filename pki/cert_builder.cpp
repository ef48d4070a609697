#include "pki/cert_builder.h"

#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <algorithm>

namespace ca::pki {

namespace {

using ossl::CryptoFail;

using Ia5String = ossl::Owned<ASN1_IA5STRING, ASN1_IA5STRING_free>;
using GeneralName = ossl::Owned<GENERAL_NAME, GENERAL_NAME_free>;

// `value` (an OpenSSL extension structure) as extension `nid`, encoded by OpenSSL.
Result<ossl::X509Ext> Encode(int nid, bool critical, void* value, const char* what) {
  ossl::X509Ext ext(X509V3_EXT_i2d(nid, critical ? 1 : 0, value));
  if (!ext) return CryptoFail(what);
  return ext;
}

GeneralName MakeGeneralName(int type, std::string_view value) {
  GeneralName gn(GENERAL_NAME_new());
  Ia5String ia5(ASN1_IA5STRING_new());
  if (!gn || !ia5 ||
      ASN1_STRING_set(ia5.get(), value.data(), static_cast<int>(value.size())) != 1) {
    return nullptr;
  }
  GENERAL_NAME_set0_value(gn.get(), type, ia5.release());
  return gn;
}

Result<GeneralName> MakeIpName(const std::string& text) {
  ossl::Asn1OctetString ip(a2i_IPADDRESS(text.c_str()));
  GeneralName gn(GENERAL_NAME_new());
  if (!ip || !gn) return Fail(ErrorCode::kInvalidArgument, "not an IP address: " + text);
  GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, ip.release());
  return gn;
}

Status PushSubtrees(STACK_OF(GENERAL_SUBTREE) * *stack, std::span<const std::string> names) {
  for (const std::string& name : names) {
    if (*stack == nullptr) *stack = sk_GENERAL_SUBTREE_new_null();
    ossl::Owned<GENERAL_SUBTREE, GENERAL_SUBTREE_free> subtree(GENERAL_SUBTREE_new());
    GeneralName base = MakeGeneralName(GEN_DNS, name);
    if (*stack == nullptr || !subtree || !base) return CryptoFail("nameConstraints");
    GENERAL_NAME_free(subtree->base);
    subtree->base = base.release();
    if (sk_GENERAL_SUBTREE_push(*stack, subtree.get()) <= 0) return CryptoFail("nameConstraints");
    subtree.release();
  }
  return Ok();
}

Status SetSignatureAlgorithm(X509* x, int nid) {
  // OpenSSL has no setter for the TBS signature AlgorithmIdentifier before signing; X509_sign
  // later writes the same value into both fields. Setting it now makes the TBS encodable, so it
  // can be linted and recorded byte for byte.
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

Status SetTime(ASN1_TIME* field, Time t) {
  // ASN1_TIME_set picks UTCTime before 2050, GeneralizedTime after (RFC 5280 §4.1.2.5).
  if (ASN1_TIME_set(field, static_cast<time_t>(t.time_since_epoch().count())) == nullptr) {
    return CryptoFail("set validity");
  }
  return Ok();
}

void FreeSequence(ASN1_SEQUENCE_ANY* s) {
  sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free);
}

// RSAPublicKey (RFC 8017 A.1.1, SEQUENCE { modulus, publicExponent }) encoded by OpenSSL from the
// key's numbers; empty when the key is not RSA.
Bytes RsaPublicKeyDer(const EVP_PKEY* key) {
  BIGNUM *n = nullptr, *e = nullptr;
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n);
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e);
  ossl::Bn n_owned(n), e_owned(e);
  ossl::Owned<ASN1_SEQUENCE_ANY, FreeSequence> seq(sk_ASN1_TYPE_new_null());
  if (n == nullptr || e == nullptr || !seq) return {};
  for (const BIGNUM* value : {n, e}) {
    ossl::Asn1Integer integer(BN_to_ASN1_INTEGER(value, nullptr));
    ossl::Owned<ASN1_TYPE, ASN1_TYPE_free> item(ASN1_TYPE_new());
    if (!integer || !item) return {};
    ASN1_TYPE_set(item.get(), V_ASN1_INTEGER, integer.release());
    if (sk_ASN1_TYPE_push(seq.get(), item.get()) <= 0) return {};
    item.release();
  }
  unsigned char* der = nullptr;
  int len = i2d_ASN1_SEQUENCE_ANY(seq.get(), &der);
  if (len <= 0) return {};
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// The certificate's SPKI: the given one when it is canonical for the key (its algorithm and
// bits, copied), else the key encoded by OpenSSL.
Status SetPublicKey(X509* x, const CertDescription& d) {
  if (d.public_key_info != nullptr && IsCanonicalSpkiOf(d.public_key_info, d.public_key)) {
    ASN1_OBJECT* algorithm = nullptr;
    const unsigned char* bits = nullptr;
    int len = 0;
    X509_ALGOR* algor = nullptr;
    X509_PUBKEY_get0_param(&algorithm, &bits, &len, &algor, d.public_key_info);
    int parameter_type = V_ASN1_UNDEF;
    const void* parameter = nullptr;
    X509_ALGOR_get0(nullptr, &parameter_type, &parameter, algor);
    // NULL (RSA) or a named curve's OID (EC): IsCanonicalSpkiOf accepts nothing else.
    ASN1_OBJECT* parameter_copy = parameter_type == V_ASN1_OBJECT
                                      ? OBJ_dup(static_cast<const ASN1_OBJECT*>(parameter))
                                      : nullptr;
    ASN1_OBJECT* algorithm_copy = OBJ_dup(algorithm);
    auto* bits_copy = static_cast<unsigned char*>(OPENSSL_memdup(bits, static_cast<size_t>(len)));
    if (algorithm_copy == nullptr || bits_copy == nullptr ||
        (parameter_type == V_ASN1_OBJECT && parameter_copy == nullptr) ||
        X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), algorithm_copy, parameter_type,
                               parameter_copy, bits_copy, len) != 1) {
      ASN1_OBJECT_free(algorithm_copy);
      ASN1_OBJECT_free(parameter_copy);
      OPENSSL_free(bits_copy);
      return CryptoFail("set public key");
    }
    return Ok();
  }
  ossl::DrainErrors();  // a refused fast path is an answer, not an error
  if (X509_set_pubkey(x, const_cast<EVP_PKEY*>(d.public_key)) != 1) {
    return CryptoFail("set public key");
  }
  return Ok();
}

Result<ossl::X509Ptr> Assemble(const CertDescription& d) {
  if (d.serial == nullptr || d.subject == nullptr || d.public_key == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, "certificate needs a serial, a subject and a key");
  }
  if (d.not_after <= d.not_before) {
    return Fail(ErrorCode::kInvalidArgument, "empty validity period");
  }
  ossl::X509Ptr x(X509_new());
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(x.get(), const_cast<ASN1_INTEGER*>(d.serial)) != 1 ||
      X509_set_issuer_name(x.get(), d.issuer != nullptr ? d.issuer : d.subject) != 1 ||
      X509_set_subject_name(x.get(), d.subject) != 1) {
    return CryptoFail("build certificate");
  }
  CA_TRY_STATUS(SetPublicKey(x.get(), d));
  CA_TRY_STATUS(SetTime(X509_getm_notBefore(x.get()), d.not_before));
  CA_TRY_STATUS(SetTime(X509_getm_notAfter(x.get()), d.not_after));
  if (d.subject_key_id_at && *d.subject_key_id_at > d.extensions.size()) {
    return Fail(ErrorCode::kInvalidArgument, "subjectKeyIdentifier position past the extensions");
  }
  for (size_t i = 0; i <= d.extensions.size(); ++i) {
    if (d.subject_key_id_at == i) {
      Bytes key_id = CA_TRY(KeyIdentifierOfBits(X509_get_X509_PUBKEY(x.get())));
      ossl::X509Ext ski = CA_TRY(SubjectKeyIdExt(key_id));
      if (X509_add_ext(x.get(), ski.get(), -1) != 1) return CryptoFail("add extension");
    }
    if (i == d.extensions.size()) break;
    const ossl::X509Ext& ext = d.extensions[i];
    if (!ext || X509_add_ext(x.get(), ext.get(), -1) != 1) return CryptoFail("add extension");
  }
  return x;
}

}  // namespace

Result<ossl::X509Name> BuildName(std::span<const NameAttribute> attributes) {
  ossl::X509Name name(X509_NAME_new());
  if (!name) return CryptoFail("X509_NAME_new");
  for (const NameAttribute& a : attributes) {
    if (X509_NAME_add_entry_by_txt(name.get(), a.field.c_str(), a.type,
                                   reinterpret_cast<const unsigned char*>(a.value.data()),
                                   static_cast<int>(a.value.size()), -1, 0) != 1) {
      return CryptoFail("subject attribute " + a.field);
    }
  }
  return name;
}

Result<ossl::X509Ptr> BuildUnsignedCertificate(const CertDescription& description,
                                               int signature_nid) {
  ossl::X509Ptr x = CA_TRY(Assemble(description));
  CA_TRY_STATUS(SetSignatureAlgorithm(x.get(), signature_nid));
  return x;
}

Result<ossl::X509Ptr> BuildSignedCertificate(const CertDescription& description, EVP_PKEY* key) {
  if (key == nullptr) return Fail(ErrorCode::kInvalidArgument, "no signing key");
  ossl::X509Ptr x = CA_TRY(Assemble(description));
  if (X509_sign(x.get(), key, DigestForKey(key)) <= 0) return CryptoFail("sign certificate");
  return x;
}

const EVP_MD* DigestForKey(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) >= 384) return EVP_sha384();
  return EVP_sha256();
}

bool IsCanonicalSpkiOf(const X509_PUBKEY* spki, const EVP_PKEY* key) {
  ASN1_OBJECT* algorithm = nullptr;
  const unsigned char* bits = nullptr;
  int len = 0;
  X509_ALGOR* algor = nullptr;
  if (spki == nullptr || key == nullptr ||
      X509_PUBKEY_get0_param(&algorithm, &bits, &len, &algor, spki) != 1) {
    return false;
  }
  int parameter_type = V_ASN1_UNDEF;
  const void* parameter = nullptr;
  X509_ALGOR_get0(nullptr, &parameter_type, &parameter, algor);
  Bytes expected;
  if (EVP_PKEY_is_a(key, "RSA") == 1) {
    // RFC 3279 §2.3.1: rsaEncryption with NULL parameters (present, not absent).
    if (OBJ_obj2nid(algorithm) != NID_rsaEncryption || parameter_type != V_ASN1_NULL) return false;
    expected = RsaPublicKeyDer(key);
  } else if (EVP_PKEY_is_a(key, "EC") == 1) {
    // RFC 5480 §2.1.1: id-ecPublicKey with the named curve; the point as the key encodes it.
    char group[64] = {};
    size_t group_len = 0;
    unsigned char point[256];
    size_t point_len = 0;
    if (OBJ_obj2nid(algorithm) != NID_X9_62_id_ecPublicKey || parameter_type != V_ASN1_OBJECT ||
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &group_len) != 1 ||
        OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(parameter)) != OBJ_sn2nid(group) ||
        EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                        sizeof point, &point_len) != 1) {
      ossl::DrainErrors();
      return false;
    }
    expected.assign(point, point + point_len);
  }
  return !expected.empty() && std::equal(expected.begin(), expected.end(), bits, bits + len);
}

Result<Bytes> KeyIdentifierOf(const EVP_PKEY* key) {
  ossl::Owned<X509_PUBKEY, X509_PUBKEY_free> pub;
  X509_PUBKEY* raw = nullptr;
  if (key == nullptr || X509_PUBKEY_set(&raw, const_cast<EVP_PKEY*>(key)) != 1) {
    return CryptoFail("public key");
  }
  pub.reset(raw);
  return KeyIdentifierOfBits(pub.get());
}

Result<Bytes> KeyIdentifierOfBits(const X509_PUBKEY* pub) {
  const unsigned char* bits = nullptr;
  int len = 0;
  if (pub == nullptr || X509_PUBKEY_get0_param(nullptr, &bits, &len, nullptr, pub) != 1) {
    return CryptoFail("public key bits");
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(bits, static_cast<size_t>(len), md, &md_len, EVP_sha1(), nullptr) != 1) {
    return CryptoFail("key identifier");
  }
  return Bytes(md, md + md_len);
}

Result<ossl::X509Ext> BasicConstraintsExt(bool ca, std::optional<long> path_len) {
  ossl::BasicConstraints bc(BASIC_CONSTRAINTS_new());
  if (!bc) return CryptoFail("basicConstraints");
  bc->ca = ca ? 0xff : 0;
  if (path_len) {
    bc->pathlen = ASN1_INTEGER_new();
    if (bc->pathlen == nullptr || ASN1_INTEGER_set(bc->pathlen, *path_len) != 1) {
      return CryptoFail("pathLenConstraint");
    }
  }
  return Encode(NID_basic_constraints, true, bc.get(), "basicConstraints");
}

Result<ossl::X509Ext> KeyUsageExt(std::span<const KeyUsageBit> bits) {
  ossl::Owned<ASN1_BIT_STRING, ASN1_BIT_STRING_free> ku(ASN1_BIT_STRING_new());
  if (!ku) return CryptoFail("keyUsage");
  for (KeyUsageBit bit : bits) {
    if (ASN1_BIT_STRING_set_bit(ku.get(), bit, 1) != 1) return CryptoFail("keyUsage");
  }
  return Encode(NID_key_usage, true, ku.get(), "keyUsage");
}

Result<ossl::X509Ext> ExtendedKeyUsageExt(std::span<const int> purpose_nids) {
  ossl::Owned<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free> eku(EXTENDED_KEY_USAGE_new());
  if (!eku) return CryptoFail("extendedKeyUsage");
  for (int nid : purpose_nids) {
    if (sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(nid)) <= 0) {
      return CryptoFail("extendedKeyUsage");
    }
  }
  return Encode(NID_ext_key_usage, false, eku.get(), "extendedKeyUsage");
}

Result<ossl::X509Ext> SubjectKeyIdExt(std::span<const uint8_t> key_id) {
  if (key_id.empty()) return Fail(ErrorCode::kInvalidArgument, "empty key identifier");
  ossl::Asn1OctetString ski(ASN1_OCTET_STRING_new());
  if (!ski ||
      ASN1_OCTET_STRING_set(ski.get(), key_id.data(), static_cast<int>(key_id.size())) != 1) {
    return CryptoFail("subjectKeyIdentifier");
  }
  return Encode(NID_subject_key_identifier, false, ski.get(), "subjectKeyIdentifier");
}

Result<ossl::X509Ext> AuthorityKeyIdExt(std::span<const uint8_t> issuer_key_id) {
  if (issuer_key_id.empty()) return Fail(ErrorCode::kInvalidArgument, "no issuer key identifier");
  ossl::Owned<AUTHORITY_KEYID, AUTHORITY_KEYID_free> akid(AUTHORITY_KEYID_new());
  if (!akid) return CryptoFail("authorityKeyIdentifier");
  akid->keyid = ASN1_OCTET_STRING_new();
  if (akid->keyid == nullptr ||
      ASN1_OCTET_STRING_set(akid->keyid, issuer_key_id.data(),
                            static_cast<int>(issuer_key_id.size())) != 1) {
    return CryptoFail("authorityKeyIdentifier");
  }
  return Encode(NID_authority_key_identifier, false, akid.get(), "authorityKeyIdentifier");
}

Result<ossl::X509Ext> AuthorityInfoAccessExt(const std::string& ocsp_url,
                                             const std::string& ca_issuers_url) {
  ossl::Owned<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free> aia(AUTHORITY_INFO_ACCESS_new());
  if (!aia) return CryptoFail("authorityInfoAccess");
  for (auto [nid, url] :
       {std::pair{NID_ad_OCSP, &ocsp_url}, std::pair{NID_ad_ca_issuers, &ca_issuers_url}}) {
    if (url->empty()) continue;
    ossl::Owned<ACCESS_DESCRIPTION, ACCESS_DESCRIPTION_free> ad(ACCESS_DESCRIPTION_new());
    GeneralName location = MakeGeneralName(GEN_URI, *url);
    if (!ad || !location) return CryptoFail("authorityInfoAccess");
    ASN1_OBJECT_free(ad->method);
    ad->method = OBJ_nid2obj(nid);
    GENERAL_NAME_free(ad->location);
    ad->location = location.release();
    if (sk_ACCESS_DESCRIPTION_push(aia.get(), ad.get()) <= 0) {
      return CryptoFail("authorityInfoAccess");
    }
    ad.release();
  }
  return Encode(NID_info_access, false, aia.get(), "authorityInfoAccess");
}

namespace {

using DistPointName = ossl::Owned<DIST_POINT_NAME, DIST_POINT_NAME_free>;

// DistributionPointName fullName with one URI: a certificate's CRLDP and a CRL shard's IDP.
DistPointName FullNameUri(const std::string& url) {
  DistPointName dpn(DIST_POINT_NAME_new());
  ossl::GeneralNames full_name(GENERAL_NAMES_new());
  GeneralName uri = MakeGeneralName(GEN_URI, url);
  if (!dpn || !full_name || !uri || sk_GENERAL_NAME_push(full_name.get(), uri.get()) <= 0) {
    return nullptr;
  }
  uri.release();
  dpn->type = 0;  // fullName
  dpn->name.fullname = full_name.release();
  return dpn;
}

}  // namespace

Result<ossl::X509Ext> CrlDistributionPointExt(const std::string& url) {
  ossl::Owned<CRL_DIST_POINTS, CRL_DIST_POINTS_free> dps(CRL_DIST_POINTS_new());
  ossl::Owned<DIST_POINT, DIST_POINT_free> dp(DIST_POINT_new());
  DistPointName dpn = FullNameUri(url);
  if (!dps || !dp || !dpn) return CryptoFail("cRLDistributionPoints");
  dp->distpoint = dpn.release();
  if (sk_DIST_POINT_push(dps.get(), dp.get()) <= 0) return CryptoFail("cRLDistributionPoints");
  dp.release();
  return Encode(NID_crl_distribution_points, false, dps.get(), "cRLDistributionPoints");
}

Result<ossl::X509Ext> IssuingDistributionPointExt(const std::string& url) {
  ossl::Owned<ISSUING_DIST_POINT, ISSUING_DIST_POINT_free> idp(ISSUING_DIST_POINT_new());
  DistPointName dpn = FullNameUri(url);
  if (!idp || !dpn) return CryptoFail("issuingDistributionPoint");
  idp->distpoint = dpn.release();
  // OpenSSL encodes the int's low byte as the BOOLEAN's content octet: DER TRUE is 0xFF.
  idp->onlyuser = 0xff;
  return Encode(NID_issuing_distribution_point, true, idp.get(), "issuingDistributionPoint");
}

Result<ossl::X509Ext> CertificatePoliciesExt(std::span<const std::string> policy_oids) {
  ossl::Owned<CERTIFICATEPOLICIES, CERTIFICATEPOLICIES_free> policies(CERTIFICATEPOLICIES_new());
  if (!policies) return CryptoFail("certificatePolicies");
  for (const std::string& oid : policy_oids) {
    ossl::Owned<POLICYINFO, POLICYINFO_free> info(POLICYINFO_new());
    ossl::Asn1Object obj(OBJ_txt2obj(oid.c_str(), 1));
    if (!info || !obj) return CryptoFail("certificatePolicies");
    ASN1_OBJECT_free(info->policyid);
    info->policyid = obj.release();
    if (sk_POLICYINFO_push(policies.get(), info.get()) <= 0) {
      return CryptoFail("certificatePolicies");
    }
    info.release();
  }
  return Encode(NID_certificate_policies, false, policies.get(), "certificatePolicies");
}

Result<ossl::X509Ext> SubjectAltNameExt(std::span<const std::string> dns_names,
                                        std::span<const std::string> ip_addresses) {
  if (dns_names.empty() && ip_addresses.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "no subjectAltName");
  }
  ossl::GeneralNames san(GENERAL_NAMES_new());
  if (!san) return CryptoFail("subjectAltName");
  for (const std::string& name : dns_names) {
    GeneralName gn = MakeGeneralName(GEN_DNS, name);
    if (!gn || sk_GENERAL_NAME_push(san.get(), gn.get()) <= 0) return CryptoFail("subjectAltName");
    gn.release();
  }
  for (const std::string& ip : ip_addresses) {
    GeneralName gn = CA_TRY(MakeIpName(ip));
    if (sk_GENERAL_NAME_push(san.get(), gn.get()) <= 0) return CryptoFail("subjectAltName");
    gn.release();
  }
  return Encode(NID_subject_alt_name, false, san.get(), "subjectAltName");
}

Result<ossl::X509Ext> NameConstraintsExt(std::span<const std::string> permitted_dns,
                                         std::span<const std::string> excluded_dns) {
  ossl::Owned<NAME_CONSTRAINTS, NAME_CONSTRAINTS_free> nc(NAME_CONSTRAINTS_new());
  if (!nc) return CryptoFail("nameConstraints");
  CA_TRY_STATUS(PushSubtrees(&nc->permittedSubtrees, permitted_dns));
  CA_TRY_STATUS(PushSubtrees(&nc->excludedSubtrees, excluded_dns));
  // RFC 5280 §4.2.1.10: conforming CAs mark name constraints critical.
  return Encode(NID_name_constraints, true, nc.get(), "nameConstraints");
}

Result<ossl::X509Ext> OcspNoCheckExt() {
  ossl::Owned<ASN1_NULL, ASN1_NULL_free> null_value(ASN1_NULL_new());
  if (!null_value) return CryptoFail("ASN1_NULL_new");
  return Encode(NID_id_pkix_OCSP_noCheck, false, null_value.get(), "id-pkix-ocsp-nocheck");
}

}  // namespace ca::pki
