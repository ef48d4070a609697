// The parts of lint.h that need no certificate Linter: LintCrl (the CRL rules), the name
// constraints check, role names and the formatting of findings.
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "pki/crl_builder.h"
#include "pki/lint.h"

namespace ca::pki {

namespace {

int CrlCriticality(const X509_CRL* crl, int nid) {
  int at = X509_CRL_get_ext_by_NID(crl, nid, -1);
  if (at < 0) return -1;
  return X509_EXTENSION_get_critical(X509_CRL_get_ext(crl, at)) ? 1 : 0;
}

void CheckCrlTimes(const X509_CRL* crl, std::vector<LintFinding>& out) {
  const ASN1_TIME* last = X509_CRL_get0_lastUpdate(crl);
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl);
  if (next == nullptr) return out.push_back({"crl_validity", "nextUpdate missing"});
  int days = 0, secs = 0;
  if (ASN1_TIME_diff(&days, &secs, last, next) != 1 || days < 0 || (days == 0 && secs <= 0)) {
    return out.push_back({"crl_validity", "nextUpdate is not after thisUpdate"});
  }
  if (days + (secs > 0 ? 1 : 0) > 400) {
    out.push_back({"crl_validity", "nextUpdate more than 400 days after thisUpdate"});
  }
}

}  // namespace

std::vector<LintFinding> LintCrl(const X509_CRL* crl, const X509* issuer) {
  if (crl == nullptr || issuer == nullptr) return {{"crl", "no CRL or no issuer"}};
  std::vector<LintFinding> out;
  X509_CRL* c = const_cast<X509_CRL*>(crl);
  X509* i = const_cast<X509*>(issuer);
  if (X509_CRL_get_version(crl) != X509_CRL_VERSION_2) out.push_back({"version", "not a v2 CRL"});
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) {
    out.push_back({"issuer", "CRL issuer differs from the issuer's subject"});
  }
  EVP_PKEY* key = X509_get0_pubkey(issuer);
  if (key == nullptr || X509_CRL_verify(c, key) != 1) {
    out.push_back({"signature", "CRL signature does not verify under the issuer's key"});
  }
  ERR_clear_error();
  static constexpr int kAllowed[] = {NID_sha256WithRSAEncryption, NID_sha384WithRSAEncryption,
                                     NID_sha512WithRSAEncryption, NID_ecdsa_with_SHA256,
                                     NID_ecdsa_with_SHA384};
  int nid = X509_CRL_get_signature_nid(crl);
  if (std::find(std::begin(kAllowed), std::end(kAllowed), nid) == std::end(kAllowed)) {
    out.push_back({"signature_algorithm",
                   std::string("signature algorithm not allowed: ") + OBJ_nid2sn(nid)});
  }
  CheckCrlTimes(crl, out);
  if (CrlCriticality(crl, NID_crl_number) != 0) {
    out.push_back({"crl_number", "cRLNumber missing or critical"});
  }
  ossl::Owned<AUTHORITY_KEYID, AUTHORITY_KEYID_free> akid(static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, nullptr, nullptr)));
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(i);
  if (!akid || akid->keyid == nullptr) {
    out.push_back({"authority_key_identifier", "extension missing"});
  } else if (ski == nullptr || ASN1_OCTET_STRING_cmp(akid->keyid, ski) != 0) {
    out.push_back(
        {"authority_key_identifier", "keyIdentifier is not the issuer's subjectKeyIdentifier"});
  }
  if ((X509_get_key_usage(i) & KU_CRL_SIGN) == 0) {
    out.push_back({"key_usage", "the issuer's keyUsage lacks cRLSign"});
  }
  // A partitioned CRL (shard): critical, one fullName URI, onlyContainsUserCerts, nothing else.
  if (auto idp = ReadIssuingDistributionPoint(crl); !idp) {
    out.push_back({"issuing_distribution_point", idp.error().message});
  } else if (*idp && (!(*idp)->critical || (*idp)->url.empty() || !(*idp)->only_user_certs ||
                      (*idp)->other_fields)) {
    out.push_back({"issuing_distribution_point",
                   "must be critical, one fullName URI and onlyContainsUserCerts only"});
  }
  return out;
}

std::string_view CertRoleName(CertRole role) {
  switch (role) {
    case CertRole::kRoot:
      return "root";
    case CertRole::kIntermediate:
      return "intermediate";
    case CertRole::kOcspSigner:
      return "ocsp-signer";
    case CertRole::kLeaf:
      return "leaf";
  }
  return "?";
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

std::string FormatFindings(const std::vector<LintFinding>& findings, std::string_view what) {
  std::string out = "lint:";
  if (!what.empty()) out += " " + std::string(what) + ":";
  for (size_t i = 0; i < findings.size(); ++i) {
    out += (i == 0 ? " " : "; ") + findings[i].rule + ": " + findings[i].detail;
  }
  return out;
}

Status FindingsStatus(const std::vector<LintFinding>& findings, std::string_view what) {
  if (findings.empty()) return Ok();
  return Fail(ErrorCode::kInternal, FormatFindings(findings, what));
}

}  // namespace ca::pki
