#include "appliance/ceremony/certs.h"

#include <openssl/pem.h>

#include "common/encoding.h"

namespace ca::ceremony {

namespace {

using ossl::CryptoFail;

Result<ossl::X509Name> BuildName(const Subject& subject) {
  ossl::X509Name name(X509_NAME_new());
  if (!name) return CryptoFail("X509_NAME_new");
  for (const auto& [field, value] : subject.attributes) {
    if (X509_NAME_add_entry_by_txt(name.get(), field.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return CryptoFail("subject attribute " + field);
    }
  }
  return name;
}

// Adds an extension given in OpenSSL's config syntax ("critical,CA:TRUE,pathlen:0"); the context
// names the issuer so that authorityKeyIdentifier can be derived.
Status AddConf(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  ossl::X509Ext ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext) return CryptoFail(std::string("extension ") + OBJ_nid2sn(nid));
  if (X509_add_ext(cert, ext.get(), -1) != 1) return CryptoFail("add extension");
  return Ok();
}

Status AddSubjectKeyId(X509* cert, const Bytes& key_id) {
  if (key_id.empty()) return Fail(ErrorCode::kInvalidArgument, "empty key identifier");
  ossl::Asn1OctetString ski(ASN1_OCTET_STRING_new());
  if (!ski || ASN1_OCTET_STRING_set(ski.get(), key_id.data(), static_cast<int>(key_id.size())) != 1) {
    return CryptoFail("subjectKeyIdentifier");
  }
  if (X509_add1_ext_i2d(cert, NID_subject_key_identifier, ski.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return CryptoFail("add subjectKeyIdentifier");
  }
  return Ok();
}

// The subjectAltName for a server: DNS names, then IP addresses. The config checked the DNS names
// (LDH) and parsed the addresses with inet_pton, so neither can break the value syntax.
Status AddSubjectAltNames(X509* cert, X509V3_CTX* ctx, const SubjectAltNames& names) {
  std::string value;
  for (const auto& n : names.dns_names) value += (value.empty() ? "DNS:" : ",DNS:") + n;
  for (const auto& ip : names.ip_addresses) value += (value.empty() ? "IP:" : ",IP:") + ip;
  if (value.empty()) return Fail(ErrorCode::kInvalidArgument, "no subjectAltName");
  return AddConf(cert, ctx, NID_subject_alt_name, value);
}

Result<ossl::X509Ptr> NewCertificate(const CertSubject& s, const X509_NAME* issuer_name) {
  if (s.public_key == nullptr) return Fail(ErrorCode::kInvalidArgument, "no public key");
  if (s.not_after <= s.not_before) return Fail(ErrorCode::kInvalidArgument, "empty validity period");
  ossl::X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return CryptoFail("X509_new");
  ossl::Asn1Integer serial = NewSerialNumber();
  if (X509_set_serialNumber(cert.get(), serial.get()) != 1) return CryptoFail("set serial");
  ossl::X509Name name = CA_TRY(BuildName(s.subject));
  if (X509_set_subject_name(cert.get(), name.get()) != 1 ||
      X509_set_issuer_name(cert.get(), issuer_name != nullptr ? issuer_name : name.get()) != 1) {
    return CryptoFail("set names");
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), s.not_before) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), s.not_after) == nullptr) {
    return CryptoFail("set validity");
  }
  if (X509_set_pubkey(cert.get(), const_cast<EVP_PKEY*>(s.public_key)) != 1) {
    return CryptoFail("set public key");
  }
  if (s.key_id.empty()) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, nullptr, cert.get(), nullptr, nullptr, 0);
    CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  } else {
    CA_TRY_STATUS(AddSubjectKeyId(cert.get(), s.key_id));
  }
  return cert;
}

Status Sign(X509* cert, EVP_PKEY* key) {
  if (key == nullptr) return Fail(ErrorCode::kInvalidArgument, "no signing key");
  if (X509_sign(cert, key, DigestForKey(key)) <= 0) return CryptoFail("sign certificate");
  return Ok();
}

// Whether the key matches the certificate is the runner's check (it compares the token's public
// key); an HSM-backed EVP_PKEY need not support comparisons. Lint verifies every signature.
Status CheckIssuer(const CertIssuer& issuer) {
  if (issuer.certificate == nullptr || issuer.key == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, "issuer certificate and key are required");
  }
  return Ok();
}

}  // namespace

ossl::Asn1Integer NewSerialNumber() {
  Bytes bytes = RandomBytes(16);
  bytes[0] = static_cast<uint8_t>((bytes[0] & 0x3f) | 0x40);
  ossl::Bn bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  return ossl::Asn1Integer(BN_to_ASN1_INTEGER(bn.get(), nullptr));
}

const EVP_MD* DigestForKey(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) >= 384) return EVP_sha384();
  return EVP_sha256();
}

Result<ossl::X509Ptr> BuildRootCertificate(const CertSubject& subject, EVP_PKEY* root_key) {
  ossl::X509Ptr cert = CA_TRY(NewCertificate(subject, nullptr));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:1"));
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  CA_TRY_STATUS(Sign(cert.get(), root_key));
  return cert;
}

Result<ossl::X509Ptr> BuildIntermediateCertificate(const CertSubject& subject,
                                                   const IntermediateExtras& extras,
                                                   const CertIssuer& issuer) {
  CA_TRY_STATUS(CheckIssuer(issuer));
  ossl::X509Ptr cert = CA_TRY(NewCertificate(subject, X509_get_subject_name(issuer.certificate)));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(issuer.certificate), cert.get(), nullptr, nullptr, 0);
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_ext_key_usage, "serverAuth"));
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_crl_distribution_points, "URI:" + extras.crl_url));
  CA_TRY_STATUS(
      AddConf(cert.get(), &ctx, NID_info_access, "caIssuers;URI:" + extras.ca_issuers_url));
  if (!extras.permitted_dns.empty() || !extras.excluded_dns.empty()) {
    // RFC 5280 §4.2.1.10: conforming CAs mark name constraints critical. The names were checked
    // to be plain lower-case DNS names, so they cannot break the value syntax.
    std::string value = "critical";
    for (const auto& n : extras.permitted_dns) value += ",permitted;DNS:" + n;
    for (const auto& n : extras.excluded_dns) value += ",excluded;DNS:" + n;
    CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_name_constraints, value));
  }
  CA_TRY_STATUS(Sign(cert.get(), issuer.key));
  return cert;
}

Result<ossl::X509Ptr> BuildOcspSignerCertificate(const CertSubject& subject,
                                                 const CertIssuer& issuer) {
  CA_TRY_STATUS(CheckIssuer(issuer));
  ossl::X509Ptr cert = CA_TRY(NewCertificate(subject, X509_get_subject_name(issuer.certificate)));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(issuer.certificate), cert.get(), nullptr, nullptr, 0);
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature"));
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_ext_key_usage, "OCSPSigning"));
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  // RFC 6960 §4.2.2.2.1: clients need not check the responder certificate's own status.
  ASN1_NULL* null_value = ASN1_NULL_new();
  if (null_value == nullptr) return CryptoFail("ASN1_NULL_new");
  int rc = X509_add1_ext_i2d(cert.get(), NID_id_pkix_OCSP_noCheck, null_value, 0, X509V3_ADD_DEFAULT);
  ASN1_NULL_free(null_value);
  if (rc != 1) return CryptoFail("add id-pkix-ocsp-nocheck");
  CA_TRY_STATUS(Sign(cert.get(), issuer.key));
  return cert;
}

Result<ossl::X509Ptr> BuildTlsServerCertificate(const CertSubject& subject,
                                                const SubjectAltNames& names,
                                                const CertIssuer& issuer) {
  CA_TRY_STATUS(CheckIssuer(issuer));
  ossl::X509Ptr cert = CA_TRY(NewCertificate(subject, X509_get_subject_name(issuer.certificate)));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(issuer.certificate), cert.get(), nullptr, nullptr, 0);
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  // RSA key exchange (TLS 1.2 without forward secrecy) encrypts to the key; ECDSA only signs.
  bool rsa = EVP_PKEY_is_a(subject.public_key, "RSA");
  CA_TRY_STATUS(
      AddConf(cert.get(), &ctx, NID_key_usage,
              rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature"));
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_ext_key_usage, "serverAuth"));
  CA_TRY_STATUS(AddConf(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  CA_TRY_STATUS(AddSubjectAltNames(cert.get(), &ctx, names));
  CA_TRY_STATUS(Sign(cert.get(), issuer.key));
  return cert;
}

Status CheckNameConstraints(const X509* cert, const X509* issuer) {
  ossl::Owned<NAME_CONSTRAINTS, NAME_CONSTRAINTS_free> nc(static_cast<NAME_CONSTRAINTS*>(
      X509_get_ext_d2i(issuer, NID_name_constraints, nullptr, nullptr)));
  if (!nc) return Ok();
  X509* c = const_cast<X509*>(cert);
  // NAME_CONSTRAINTS_check reads the subjectAltName that OpenSSL caches when it parses the
  // extensions; a certificate being built has not been parsed yet.
  if (X509_get_extension_flags(c) & EXFLAG_INVALID) {
    return Fail(ErrorCode::kInvalidArgument, "an extension does not parse");
  }
  int rc = NAME_CONSTRAINTS_check(c, nc.get());
  if (rc == X509_V_OK) rc = NAME_CONSTRAINTS_check_CN(c, nc.get());
  if (rc == X509_V_OK) return Ok();
  return Fail(ErrorCode::kInvalidArgument, X509_verify_cert_error_string(rc));
}

Status CheckNamesAllowedByIssuer(const SubjectAltNames& names, const X509* issuer) {
  auto check = [&](const std::string& field, size_t i, SubjectAltNames one) -> Status {
    // An unsigned certificate that holds only this name, checked like the real one.
    ossl::X509Ptr probe(X509_new());
    if (!probe) return CryptoFail("X509_new");
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, nullptr, probe.get(), nullptr, nullptr, 0);
    CA_TRY_STATUS(AddSubjectAltNames(probe.get(), &ctx, one));
    auto allowed = CheckNameConstraints(probe.get(), issuer);
    if (allowed) return Ok();
    const std::string& name = one.dns_names.empty() ? one.ip_addresses[0] : one.dns_names[0];
    return Fail(ErrorCode::kInvalidArgument,
                field + "[" + std::to_string(i) + "]: '" + name +
                    "' is not allowed by the issuer's name constraints (" +
                    allowed.error().message + ")");
  };
  for (size_t i = 0; i < names.dns_names.size(); ++i) {
    CA_TRY_STATUS(check("dns_names", i, {{names.dns_names[i]}, {}}));
  }
  for (size_t i = 0; i < names.ip_addresses.size(); ++i) {
    CA_TRY_STATUS(check("ip_addresses", i, {{}, {names.ip_addresses[i]}}));
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

Result<ossl::X509Crl> BuildCrl(const CrlParams& params, const CertIssuer& issuer) {
  CA_TRY_STATUS(CheckIssuer(issuer));
  if (params.next_update <= params.this_update) {
    return Fail(ErrorCode::kInvalidArgument, "nextUpdate must follow thisUpdate");
  }
  ossl::X509Crl crl(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.certificate)) != 1) {
    return CryptoFail("X509_CRL_new");
  }
  ossl::Asn1Time this_update(ASN1_TIME_set(nullptr, params.this_update));
  ossl::Asn1Time next_update(ASN1_TIME_set(nullptr, params.next_update));
  if (!this_update || !next_update || X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1) {
    return CryptoFail("CRL times");
  }
  for (const auto& entry : params.revoked) {
    ossl::X509Revoked revoked(X509_REVOKED_new());
    BIGNUM* raw = nullptr;
    if (!revoked || BN_hex2bn(&raw, entry.serial_hex.c_str()) == 0) {
      BN_free(raw);
      return CryptoFail("revoked serial " + entry.serial_hex);
    }
    ossl::Bn bn(raw);
    ossl::Asn1Integer serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    ossl::Asn1Time when(entry.revocation_date.empty() ? ASN1_TIME_set(nullptr, params.this_update)
                                                      : ASN1_TIME_new());
    if (when && !entry.revocation_date.empty() &&
        ASN1_TIME_set_string_X509(when.get(), entry.revocation_date.c_str()) != 1) {
      return CryptoFail("revocation date " + entry.revocation_date);
    }
    if (!serial || !when || X509_REVOKED_set_serialNumber(revoked.get(), serial.get()) != 1 ||
        X509_REVOKED_set_revocationDate(revoked.get(), when.get()) != 1) {
      return CryptoFail("revoked entry " + entry.serial_hex);
    }
    if (entry.reason >= 0) {
      ossl::Owned<ASN1_ENUMERATED, ASN1_ENUMERATED_free> reason(ASN1_ENUMERATED_new());
      if (!reason || ASN1_ENUMERATED_set(reason.get(), entry.reason) != 1 ||
          X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, reason.get(), 0,
                                    X509V3_ADD_DEFAULT) != 1) {
        return CryptoFail("revocation reason");
      }
    }
    if (X509_CRL_add0_revoked(crl.get(), revoked.get()) != 1) return CryptoFail("add revoked");
    revoked.release();  // owned by the CRL now
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(issuer.certificate), nullptr, nullptr, crl.get(), 0);
  ossl::X509Ext aki(
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!aki || X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1) return CryptoFail("CRL AKI");
  ossl::Bn number_bn(BN_new());
  if (!number_bn || BN_set_word(number_bn.get(), params.crl_number) != 1) return CryptoFail("CRL number");
  ossl::Asn1Integer number(BN_to_ASN1_INTEGER(number_bn.get(), nullptr));
  if (!number || X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0,
                                       X509V3_ADD_DEFAULT) != 1) {
    return CryptoFail("CRL number");
  }
  if (X509_CRL_sort(crl.get()) != 1) return CryptoFail("sort CRL");
  if (X509_CRL_sign(crl.get(), issuer.key, DigestForKey(issuer.key)) <= 0) {
    return CryptoFail("sign CRL");
  }
  return crl;
}

Result<std::string> CrlToPem(const X509_CRL* crl) {
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl) != 1) return ossl::CryptoFail("encode CRL PEM");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace ca::ceremony
