#include "appliance/ceremony/lint.h"

#include <openssl/err.h>

#include <algorithm>
#include <optional>

#include "appliance/ceremony/certs.h"

namespace ca::ceremony {

namespace {

using Problems = std::vector<std::string>;

// Extension criticality: -1 absent, 0 non-critical, 1 critical.
int Criticality(const X509* cert, int nid) {
  int at = X509_get_ext_by_NID(cert, nid, -1);
  if (at < 0) return -1;
  return X509_EXTENSION_get_critical(X509_get_ext(cert, at)) ? 1 : 0;
}

int CrlCriticality(const X509_CRL* crl, int nid) {
  int at = X509_CRL_get_ext_by_NID(crl, nid, -1);
  if (at < 0) return -1;
  return X509_EXTENSION_get_critical(X509_CRL_get_ext(crl, at)) ? 1 : 0;
}

bool SameOctets(const ASN1_OCTET_STRING* a, const ASN1_OCTET_STRING* b) {
  return a != nullptr && b != nullptr && ASN1_OCTET_STRING_cmp(a, b) == 0;
}

// Days between two ASN1_TIMEs (b - a), or nullopt if they cannot be compared.
std::optional<int> DaysBetween(const ASN1_TIME* a, const ASN1_TIME* b) {
  int days = 0, secs = 0;
  if (ASN1_TIME_diff(&days, &secs, a, b) != 1) return std::nullopt;
  return days + (secs > 0 ? 1 : 0);
}

void CheckSerial(const X509* cert, Problems& p) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  if (serial == nullptr) {
    p.push_back("no serial number");
    return;
  }
  if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) p.push_back("serial number is negative");
  const unsigned char* data = ASN1_STRING_get0_data(serial);
  int len = ASN1_STRING_length(serial);
  int der_len = len + ((len > 0 && (data[0] & 0x80) != 0) ? 1 : 0);
  if (len < 16) p.push_back("serial number shorter than 16 octets (" + std::to_string(len) + ")");
  if (der_len > 20) p.push_back("serial number longer than 20 octets");
  if (std::all_of(data, data + len, [](unsigned char c) { return c == 0; })) {
    p.push_back("serial number is zero");
  }
}

void CheckKey(const X509* cert, CertRole role, Problems& p) {
  const EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr) {
    p.push_back("no readable public key");
    return;
  }
  bool rsa = EVP_PKEY_is_a(key, "RSA");
  bool ec = EVP_PKEY_is_a(key, "EC");
  int bits = EVP_PKEY_get_bits(key);
  std::string curve;
  if (ec) {
    char name[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, "group", name, sizeof(name), &len) == 1) curve = name;
  }
  bool ok = false;
  switch (role) {
    case CertRole::kRoot:
      ok = (rsa && (bits == 3072 || bits == 4096)) || (ec && curve == "secp384r1");
      break;
    case CertRole::kIntermediate: ok = rsa && (bits == 3072 || bits == 4096); break;
    case CertRole::kOcspSigner:
      ok = (rsa && (bits == 3072 || bits == 4096)) || (ec && curve == "prime256v1");
      break;
    case CertRole::kTlsServer: ok = (rsa && bits == 3072) || (ec && curve == "prime256v1"); break;
  }
  if (!ok) {
    p.push_back("key type not allowed for a " + std::string(CertRoleName(role)) + " (" +
                (rsa ? "RSA " + std::to_string(bits) : ec ? "EC " + curve : "other") + ")");
  }
}

void CheckSignatureAlgorithm(int nid, Problems& p) {
  static constexpr int kAllowed[] = {NID_sha256WithRSAEncryption, NID_sha384WithRSAEncryption,
                                     NID_sha512WithRSAEncryption, NID_ecdsa_with_SHA256,
                                     NID_ecdsa_with_SHA384};
  if (std::find(std::begin(kAllowed), std::end(kAllowed), nid) == std::end(kAllowed)) {
    p.push_back(std::string("signature algorithm not allowed: ") + OBJ_nid2sn(nid));
  }
}

void CheckExtendedKeyUsage(const X509* cert, CertRole role, Problems& p) {
  int crit = 0;
  auto* eku = static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, nullptr));
  if (role == CertRole::kRoot) {
    if (eku != nullptr) p.push_back("a root must not carry extendedKeyUsage");
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    return;
  }
  int want = role == CertRole::kOcspSigner ? NID_OCSP_sign : NID_server_auth;
  if (eku == nullptr) {
    p.push_back(std::string("extendedKeyUsage missing (want ") + OBJ_nid2sn(want) + ")");
    return;
  }
  if (sk_ASN1_OBJECT_num(eku) != 1 || OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)) != want) {
    p.push_back(std::string("extendedKeyUsage must be exactly ") + OBJ_nid2sn(want));
  }
  sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
}

void CheckBasicConstraints(const X509* cert, CertRole role, Problems& p) {
  int crit = 0;
  ossl::BasicConstraints bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert, NID_basic_constraints, &crit, nullptr)));
  if (!bc) {
    p.push_back("basicConstraints missing");
    return;
  }
  if (crit != 1) p.push_back("basicConstraints not critical");
  bool want_ca = role == CertRole::kRoot || role == CertRole::kIntermediate;
  if ((bc->ca != 0) != want_ca) {
    p.push_back(want_ca ? "basicConstraints CA:FALSE on a CA"
                        : "basicConstraints CA:TRUE on a " + std::string(CertRoleName(role)) +
                              " certificate");
  }
  if (want_ca) {
    long want_len = role == CertRole::kRoot ? 1 : 0;
    if (bc->pathlen == nullptr) {
      p.push_back("pathLenConstraint missing (want " + std::to_string(want_len) + ")");
    } else if (ASN1_INTEGER_get(bc->pathlen) != want_len) {
      p.push_back("pathLenConstraint is " + std::to_string(ASN1_INTEGER_get(bc->pathlen)) +
                  " (want " + std::to_string(want_len) + ")");
    }
  } else if (bc->pathlen != nullptr) {
    p.push_back("pathLenConstraint on a non-CA certificate");
  }
}

void CheckValidity(const X509* cert, const X509* issuer, CertRole role, Problems& p) {
  const ASN1_TIME* nb = X509_get0_notBefore(cert);
  const ASN1_TIME* na = X509_get0_notAfter(cert);
  auto days = DaysBetween(nb, na);
  if (!days || *days <= 0) {
    p.push_back("notAfter is not after notBefore");
    return;
  }
  int max_days = role == CertRole::kRoot           ? 9132
                 : role == CertRole::kIntermediate ? 3653
                 : role == CertRole::kTlsServer    ? 397
                                                   : 398;
  if (*days > max_days) {
    p.push_back("validity of " + std::to_string(*days) + " days exceeds " +
                std::to_string(max_days) + " for a " + std::string(CertRoleName(role)));
  }
  if (issuer != cert) {
    if (ASN1_TIME_compare(na, X509_get0_notAfter(issuer)) > 0) {
      p.push_back("notAfter is later than the issuer's notAfter");
    }
    if (ASN1_TIME_compare(nb, X509_get0_notBefore(issuer)) < 0) {
      p.push_back("notBefore is earlier than the issuer's notBefore");
    }
  }
}

// A server certificate names its hosts in a non-critical subjectAltName (the subject is not
// empty) of DNS names and IP addresses only, all allowed by the issuer's name constraints.
void CheckServerNames(const X509* cert, const X509* issuer, Problems& p) {
  int crit = 0;
  ossl::GeneralNames san(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr)));
  if (!san || sk_GENERAL_NAME_num(san.get()) == 0) {
    p.push_back("subjectAltName missing or empty");
    return;
  }
  if (crit == 1) p.push_back("subjectAltName is critical although the subject is not empty");
  for (int i = 0; i < sk_GENERAL_NAME_num(san.get()); ++i) {
    int type = sk_GENERAL_NAME_value(san.get(), i)->type;
    if (type != GEN_DNS && type != GEN_IPADD) {
      p.push_back("subjectAltName holds a name that is neither a DNS name nor an IP address");
      break;
    }
  }
  auto allowed = CheckNameConstraints(cert, issuer);
  if (!allowed) {
    p.push_back("names not allowed by the issuer's name constraints (" + allowed.error().message +
                ")");
  }
}

}  // namespace

std::string_view CertRoleName(CertRole role) {
  switch (role) {
    case CertRole::kRoot: return "root";
    case CertRole::kIntermediate: return "intermediate";
    case CertRole::kOcspSigner: return "ocsp-signer";
    case CertRole::kTlsServer: return "tls-server";
  }
  return "?";
}

std::vector<std::string> LintCertificate(const X509* cert, const X509* issuer, CertRole role,
                                         const LintOptions& options) {
  Problems p;
  if (cert == nullptr || issuer == nullptr) return {"no certificate"};
  X509* c = const_cast<X509*>(cert);
  X509* i = const_cast<X509*>(issuer);
  // Computes and caches the extension flags; EXFLAG_INVALID marks extensions that do not parse.
  uint32_t flags = X509_get_extension_flags(c);
  X509_get_extension_flags(i);
  if (flags & EXFLAG_INVALID) p.push_back("an extension does not parse");
  if (flags & EXFLAG_CRITICAL) p.push_back("an unsupported extension is marked critical");
  if (X509_get_version(cert) != X509_VERSION_3) p.push_back("not a version 3 certificate");
  CheckSerial(cert, p);
  CheckKey(cert, role, p);
  CheckSignatureAlgorithm(X509_get_signature_nid(cert), p);

  if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(issuer)) != 0) {
    p.push_back("issuer name differs from the issuer's subject");
  }
  if (role == CertRole::kRoot && X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(cert)) != 0) {
    p.push_back("a root must be self-issued");
  }
  const EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
  if (issuer_key == nullptr || X509_verify(c, const_cast<EVP_PKEY*>(issuer_key)) != 1) {
    p.push_back("signature does not verify under the issuer's key");
  }
  ERR_clear_error();

  CheckValidity(cert, issuer, role, p);
  CheckBasicConstraints(cert, role, p);

  int ku_crit = Criticality(cert, NID_key_usage);
  uint32_t ku = X509_get_key_usage(c);
  uint32_t want_ku = KU_KEY_CERT_SIGN | KU_CRL_SIGN;
  std::string want_ku_text = "keyCertSign, cRLSign";
  if (role == CertRole::kOcspSigner || role == CertRole::kTlsServer) {
    want_ku = KU_DIGITAL_SIGNATURE;
    want_ku_text = "digitalSignature";
  }
  const EVP_PKEY* subject_key = X509_get0_pubkey(cert);
  if (role == CertRole::kTlsServer && subject_key != nullptr && EVP_PKEY_is_a(subject_key, "RSA")) {
    want_ku |= KU_KEY_ENCIPHERMENT;  // TLS 1.2 RSA key exchange
    want_ku_text += ", keyEncipherment";
  }
  if (ku_crit < 0) {
    p.push_back("keyUsage missing");
  } else {
    if (ku_crit != 1) p.push_back("keyUsage not critical");
    if (ku != want_ku) p.push_back("keyUsage must be exactly " + want_ku_text);
  }
  CheckExtendedKeyUsage(cert, role, p);

  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(c);
  if (ski == nullptr) p.push_back("subjectKeyIdentifier missing");
  if (Criticality(cert, NID_subject_key_identifier) == 1) p.push_back("subjectKeyIdentifier is critical");
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(c);
  if (role != CertRole::kRoot || aki != nullptr) {
    if (aki == nullptr) {
      p.push_back("authorityKeyIdentifier missing");
    } else if (!SameOctets(aki, X509_get0_subject_key_id(i))) {
      p.push_back("authorityKeyIdentifier differs from the issuer's subjectKeyIdentifier");
    }
    if (Criticality(cert, NID_authority_key_identifier) == 1) {
      p.push_back("authorityKeyIdentifier is critical");
    }
  }

  if (role == CertRole::kIntermediate) {
    if (Criticality(cert, NID_crl_distribution_points) < 0) p.push_back("cRLDistributionPoints missing");
    if (Criticality(cert, NID_info_access) < 0) p.push_back("authorityInfoAccess (caIssuers) missing");
    if (Criticality(cert, NID_name_constraints) == 0) p.push_back("nameConstraints not critical");
  } else if (Criticality(cert, NID_name_constraints) >= 0) {
    p.push_back("nameConstraints only belong on the intermediate");
  }
  int nocheck = Criticality(cert, NID_id_pkix_OCSP_noCheck);
  if (role == CertRole::kOcspSigner && nocheck < 0) p.push_back("id-pkix-ocsp-nocheck missing");
  if (role != CertRole::kOcspSigner && nocheck >= 0) {
    p.push_back("id-pkix-ocsp-nocheck on a " + std::string(CertRoleName(role)) + " certificate");
  }

  if (role == CertRole::kTlsServer) CheckServerNames(cert, issuer, p);

  if (options.staging) {
    bool has_test = false;
    const X509_NAME* name = X509_get_subject_name(cert);
    for (int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1); at >= 0;
         at = X509_NAME_get_index_by_NID(name, NID_commonName, at)) {
      const ASN1_STRING* v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
      std::string_view cn(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                          static_cast<size_t>(ASN1_STRING_length(v)));
      if (cn.find("TEST") != std::string_view::npos) has_test = true;
    }
    if (!has_test) p.push_back("staging certificate without TEST in its CN");
  }
  return p;
}

std::vector<std::string> LintCrl(const X509_CRL* crl, const X509* issuer) {
  Problems p;
  if (crl == nullptr || issuer == nullptr) return {"no CRL"};
  X509_CRL* c = const_cast<X509_CRL*>(crl);
  if (X509_CRL_get_version(crl) != X509_CRL_VERSION_2) p.push_back("not a version 2 CRL");
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) {
    p.push_back("CRL issuer differs from the issuer's subject");
  }
  const EVP_PKEY* key = X509_get0_pubkey(issuer);
  if (key == nullptr || X509_CRL_verify(c, const_cast<EVP_PKEY*>(key)) != 1) {
    p.push_back("CRL signature does not verify under the issuer's key");
  }
  ERR_clear_error();
  CheckSignatureAlgorithm(X509_CRL_get_signature_nid(crl), p);
  const ASN1_TIME* last = X509_CRL_get0_lastUpdate(crl);
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl);
  if (next == nullptr) {
    p.push_back("nextUpdate missing");
  } else {
    auto days = DaysBetween(last, next);
    if (!days || *days <= 0) p.push_back("nextUpdate is not after thisUpdate");
    if (days && *days > 400) p.push_back("nextUpdate more than 400 days after thisUpdate");
  }
  if (CrlCriticality(crl, NID_crl_number) != 0) p.push_back("cRLNumber missing or critical");
  int crit = 0;
  auto* akid = static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit, nullptr));
  if (akid == nullptr || akid->keyid == nullptr) {
    p.push_back("authorityKeyIdentifier missing");
  } else if (!SameOctets(akid->keyid, X509_get0_subject_key_id(const_cast<X509*>(issuer)))) {
    p.push_back("authorityKeyIdentifier differs from the issuer's subjectKeyIdentifier");
  }
  AUTHORITY_KEYID_free(akid);
  if ((X509_get_key_usage(const_cast<X509*>(issuer)) & KU_CRL_SIGN) == 0) {
    p.push_back("the issuer's keyUsage lacks cRLSign");
  }
  return p;
}

Status LintStatus(std::string_view what, const std::vector<std::string>& problems) {
  if (problems.empty()) return Ok();
  std::string joined;
  for (const auto& s : problems) joined += (joined.empty() ? "" : "; ") + s;
  return Fail(ErrorCode::kInternal, "lint: " + std::string(what) + ": " + joined);
}

}  // namespace ca::ceremony
