// The linter's tables and ASN.1 readers (see lint_rules.h).
#include "pki/lint_rules.h"

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <ctime>

namespace ca::pki::lint_rules {

std::string Text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

std::string Oid(const ASN1_OBJECT* obj) {
  char buf[128];
  OBJ_obj2txt(buf, sizeof(buf), obj, 1);
  return buf;
}

std::optional<int64_t> Seconds(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

ossl::Bytes NameDer(const X509_NAME* name) {
  unsigned char* der = nullptr;
  int len = i2d_X509_NAME(name, &der);
  if (len <= 0) return {};
  ossl::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

RoleExtensions ExtensionsOf(CertRole role, bool from_request) {
  const int bc = NID_basic_constraints, ku = NID_key_usage, eku = NID_ext_key_usage,
            ski = NID_subject_key_identifier, aki = NID_authority_key_identifier,
            aia = NID_info_access, dp = NID_crl_distribution_points, pol = NID_certificate_policies,
            san = NID_subject_alt_name, nc = NID_name_constraints,
            nocheck = NID_id_pkix_OCSP_noCheck;
  switch (role) {
    case CertRole::kRoot:
      return {{bc, ku, ski, aki}, {bc, ku, ski}};
    case CertRole::kIntermediate:
      return {{bc, ku, eku, ski, aki, dp, aia, nc}, {bc, ku, eku, ski, aki, dp, aia}};
    case CertRole::kOcspSigner:
      return {{bc, ku, eku, ski, aki, nocheck}, {bc, ku, eku, ski, aki, nocheck}};
    case CertRole::kLeaf:
      if (from_request) {
        return {{bc, ku, eku, ski, aki, aia, dp, pol, san},
                {bc, ku, eku, ski, aki, aia, dp, pol, san}};
      }
      return {{bc, ku, eku, ski, aki, aia, dp, pol, san}, {bc, ku, eku, ski, aki, san}};
  }
  return {};
}

const char* RuleOf(int nid) {
  switch (nid) {
    case NID_basic_constraints:
      return "basic_constraints";
    case NID_key_usage:
      return "key_usage";
    case NID_ext_key_usage:
      return "extended_key_usage";
    case NID_subject_key_identifier:
      return "subject_key_identifier";
    case NID_authority_key_identifier:
      return "authority_key_identifier";
    case NID_info_access:
      return "authority_info_access";
    case NID_crl_distribution_points:
      return "crl_distribution_points";
    case NID_certificate_policies:
      return "certificate_policies";
    case NID_subject_alt_name:
      return "subject_alt_name";
    case NID_name_constraints:
      return "name_constraints";
    case NID_id_pkix_OCSP_noCheck:
      return "ocsp_nocheck";
  }
  return "extensions";
}

}  // namespace ca::pki::lint_rules
