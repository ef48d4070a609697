#include "profiles/issuance/csr_check.h"

#include <openssl/err.h>

#include <algorithm>
#include <set>

#include "common/encoding.h"
#include "profiles/issuance/dns_names.h"
#include "profiles/issuance/weak_key.h"

namespace ca::issuance {

namespace {

std::unexpected<Error> Refuse(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, "CSR refused: " + std::move(message));
}

std::string JoinNames(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void FreeExtensions(STACK_OF(X509_EXTENSION) * s) {
  sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}

struct CsrNames {
  std::vector<std::string> san;  // dNSNames, lower-cased
  bool has_san = false;
  std::optional<std::string> cn;  // lower-cased
};

Result<CsrNames> ExtractNames(const X509_REQ* csr) {
  CsrNames out;
  const X509_NAME* subject = X509_REQ_get_subject_name(csr);
  int cn_index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (cn_index >= 0) {
    if (X509_NAME_get_index_by_NID(subject, NID_commonName, cn_index) >= 0) {
      return Refuse("the subject has more than one CN");
    }
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, cn_index));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) return Refuse("the subject CN cannot be decoded");
    out.cn = AsciiLower(std::string(reinterpret_cast<char*>(utf8), static_cast<size_t>(len)));
    OPENSSL_free(utf8);
  }

  ossl::Owned<STACK_OF(X509_EXTENSION), FreeExtensions> extensions(
      X509_REQ_get_extensions(const_cast<X509_REQ*>(csr)));
  if (!extensions) return out;
  int san_index = X509v3_get_ext_by_NID(extensions.get(), NID_subject_alt_name, -1);
  if (san_index < 0) return out;
  if (X509v3_get_ext_by_NID(extensions.get(), NID_subject_alt_name, san_index) >= 0) {
    return Refuse("more than one subjectAltName extension");
  }
  out.has_san = true;
  ossl::GeneralNames names(
      static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(X509v3_get_ext(extensions.get(), san_index))));
  if (!names) return Refuse("the subjectAltName extension cannot be parsed");
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_DNS) {
      return Refuse(
          "subjectAltName holds a name that is not a dNSName (only DNS identifiers are issued)");
    }
    const ASN1_IA5STRING* dns = gn->d.dNSName;
    out.san.push_back(
        AsciiLower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                               static_cast<size_t>(ASN1_STRING_length(dns)))));
  }
  return out;
}

}  // namespace

Result<AcceptedCsr> CheckCsr(const Profile& profile, const CsrCheckRequest& request) {
  if (request.csr == nullptr) return Fail(ErrorCode::kInvalidArgument, "CSR refused: no CSR");
  if (!request.known_key) return Fail(ErrorCode::kInternal, "CheckCsr: no key lookup supplied");
  if (!profile.enabled) {
    return Fail(ErrorCode::kPermissionDenied,
                "profile " + std::string(policy::ProfileName(profile.id)) + " is disabled");
  }
  CA_TRY_STATUS(ValidateNames(profile, request.names));

  EVP_PKEY* key = X509_REQ_get0_pubkey(const_cast<X509_REQ*>(request.csr));
  if (key == nullptr) return Refuse("no readable public key");
  if (auto st = CheckSubscriberKey(key, profile); !st) return Refuse(st.error().message);

  int verified = X509_REQ_verify(const_cast<X509_REQ*>(request.csr), key);
  ossl::DrainErrors();
  if (verified != 1) return Refuse("the signature does not verify with the CSR's public key");

  CsrNames csr_names = CA_TRY(ExtractNames(request.csr));
  std::set<std::string> wanted(request.names.begin(), request.names.end());
  std::set<std::string> got;
  if (csr_names.has_san) {
    got.insert(csr_names.san.begin(), csr_names.san.end());
    if (csr_names.cn && got.count(*csr_names.cn) == 0) {
      return Refuse("the subject CN '" + *csr_names.cn + "' is not among the subjectAltName names");
    }
  } else if (csr_names.cn) {
    got.insert(*csr_names.cn);
  } else {
    return Refuse("no names: neither subjectAltName nor CN");
  }
  if (got != wanted) {
    std::set<std::string> missing, extra;
    std::set_difference(wanted.begin(), wanted.end(), got.begin(), got.end(),
                        std::inserter(missing, missing.end()));
    std::set_difference(got.begin(), got.end(), wanted.begin(), wanted.end(),
                        std::inserter(extra, extra.end()));
    std::string detail = "the names differ from the order's";
    if (!missing.empty()) detail += "; missing: " + JoinNames(missing);
    if (!extra.empty()) detail += "; not in the order: " + JoinNames(extra);
    return Refuse(detail);
  }

  AcceptedCsr accepted;
  // SHA-256 of the SubjectPublicKeyInfo as the CSR carries it (the same bytes
  // ossl::PublicKeyFingerprint would re-encode, without OpenSSL's encoder machinery).
  {
    unsigned char* spki = nullptr;
    int len = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(const_cast<X509_REQ*>(request.csr)), &spki);
    if (len <= 0) return ossl::CryptoFail("encode CSR SubjectPublicKeyInfo");
    accepted.spki_sha256 = Sha256(std::span<const uint8_t>(spki, static_cast<size_t>(len)));
    OPENSSL_free(spki);
  }
  for (const X509* ca : request.ca_certificates) {
    const EVP_PKEY* ca_key = X509_get0_pubkey(ca);
    if (ca_key == nullptr)
      return Fail(ErrorCode::kInvalidArgument, "CheckCsr: CA certificate without key");
    if (EVP_PKEY_eq(ca_key, key) == 1) return Refuse("the public key is the CA's own key");
    ERR_clear_error();  // a type mismatch (RSA vs EC) is an answer, not an error
  }
  if (CA_TRY(request.known_key(accepted.spki_sha256))) {
    return Refuse(
        "the public key was certified before or belongs to a CA or an ACME account; "
        "generate a fresh key pair");
  }
  if (EVP_PKEY_up_ref(key) != 1) return ossl::CryptoFail("hold CSR key");
  accepted.public_key.reset(key);
  return accepted;
}

}  // namespace ca::issuance
