#include "profiles/issuance/lint.h"

#include <openssl/err.h>
#include <openssl/objects.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>

#include "profiles/issuance/dns_names.h"
#include "profiles/issuance/weak_key.h"

namespace ca::issuance {

namespace {

class Linter {
 public:
  Linter(const Profile& profile, const Issuer& issuer, const TbsRequest& request)
      : profile_(profile), issuer_(issuer), request_(request) {}

  void Add(std::string rule, std::string detail) {
    findings_.push_back({std::move(rule), std::move(detail)});
  }
  std::vector<LintFinding> Take() { return std::move(findings_); }

  // The rules shared by a TBS and a signed certificate, on the parsed structure `c`.
  void CheckParsed(X509* c) {
    if (issuer_.certificate == nullptr) {
      Add("issuer", "no issuer certificate to compare with");
      return;
    }
    CheckHeader(c);
    CheckValidity(c);
    CheckSubject(c);
    CheckKey(c);
    CheckExtensions(c);
  }

 private:
  static std::string Text(const ASN1_STRING* s) {
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
  }

  void CheckHeader(X509* c) {
    if (X509_get_version(c) != X509_VERSION_3) Add("version", "not version 3");
    auto serial = SerialFromAsn1(X509_get0_serialNumber(c));
    if (!serial) {
      Add("serial", serial.error().message);
    } else if (auto st = ValidateSerial(*serial); !st) {
      Add("serial", st.error().message);
    } else if (*serial != request_.serial) {
      Add("serial", "differs from the reserved serial");
    }
    auto nid = SignatureNidFor(X509_get0_pubkey(issuer_.certificate));
    const X509_ALGOR* alg = X509_get0_tbs_sigalg(c);
    const ASN1_OBJECT* oid = nullptr;
    int param_type = 0;
    X509_ALGOR_get0(&oid, &param_type, nullptr, alg);
    if (!nid || OBJ_obj2nid(oid) != *nid) {
      Add("signature_algorithm", "not the algorithm of the issuer's key");
    } else if (param_type != (*nid == NID_sha256WithRSAEncryption ? V_ASN1_NULL : V_ASN1_UNDEF)) {
      Add("signature_algorithm", "wrong AlgorithmIdentifier parameters");
    }
    if (NameDer(X509_get_issuer_name(c)) != NameDer(X509_get_subject_name(issuer_.certificate))) {
      Add("issuer", "issuer name differs from the issuing CA's subject");
    }
    const ASN1_BIT_STRING* iuid = nullptr;
    const ASN1_BIT_STRING* suid = nullptr;
    X509_get0_uids(c, &iuid, &suid);
    if (iuid != nullptr || suid != nullptr) Add("unique_ids", "issuer/subject unique IDs present");
  }

  static ossl::Bytes NameDer(const X509_NAME* name) {
    unsigned char* der = nullptr;
    int len = i2d_X509_NAME(name, &der);
    if (len <= 0) return {};
    ossl::Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
  }

  static std::optional<int64_t> Seconds(const ASN1_TIME* t) {
    struct tm tm {};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
    return static_cast<int64_t>(timegm(&tm));
  }

  void CheckValidity(X509* c) {
    const ASN1_TIME* nb = X509_get0_notBefore(c);
    const ASN1_TIME* na = X509_get0_notAfter(c);
    auto not_before = Seconds(nb);
    auto not_after = Seconds(na);
    if (!not_before || !not_after) {
      Add("validity", "unreadable notBefore/notAfter");
      return;
    }
    for (auto [t, v] : {std::pair{nb, *not_before}, std::pair{na, *not_after}}) {
      bool utc_range =
          v < 2524608000;  // 2050-01-01: RFC 5280 §4.1.2.5 UTCTime before, then GeneralizedTime
      int want = utc_range ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME;
      if (ASN1_STRING_type(t) != want) Add("validity", "time not encoded as RFC 5280 requires");
    }
    int64_t length = *not_after - *not_before + 1;  // inclusive (RFC 5280 §4.1.2.5)
    if (length <= 0) {
      Add("validity", "notAfter is before notBefore");
      return;
    }
    if (length > profile_.max_validity.count() || length > kMaxValidityCap.count()) {
      Add("validity", "validity of " + std::to_string(length) + " s exceeds the profile's " +
                          std::to_string(profile_.max_validity.count()) + " s");
    }
    auto expected = ComputeValidity(profile_, request_);
    if (!expected) {
      Add("validity", expected.error().message);
    } else if (*not_before != expected->not_before.time_since_epoch().count() ||
               *not_after != expected->not_after.time_since_epoch().count()) {
      Add("validity",
          "notBefore/notAfter differ from the request (length " + std::to_string(length) + " s)");
    }
  }

  void CheckSubject(X509* c) {
    const X509_NAME* subject = X509_get_subject_name(c);
    std::vector<std::pair<int, std::string>> expected = {
        {NID_countryName, request_.organization.country},
        {NID_localityName, request_.organization.locality},
        {NID_organizationName, request_.organization.name}};
    if (auto cn = SubjectCommonName(profile_, request_.names))
      expected.emplace_back(NID_commonName, *cn);
    std::vector<std::pair<int, std::string>> actual;
    for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
      const X509_NAME_ENTRY* e = X509_NAME_get_entry(subject, i);
      int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
      const ASN1_STRING* data = X509_NAME_ENTRY_get_data(e);
      if (nid == NID_countryName && ASN1_STRING_type(data) != V_ASN1_PRINTABLESTRING) {
        Add("subject", "C is not a PrintableString");
      }
      if (nid != NID_countryName && ASN1_STRING_type(data) != V_ASN1_UTF8STRING) {
        Add("subject", std::string(OBJ_nid2sn(nid)) + " is not a UTF8String");
      }
      actual.emplace_back(nid, Text(data));
    }
    if (actual != expected) {
      std::string shown;
      for (auto& [nid, v] : actual)
        shown += (shown.empty() ? "" : ", ") + std::string(OBJ_nid2sn(nid)) + "=" + v;
      Add("subject", "subject is [" + shown + "], expected C, L, O from the organization" +
                         std::string(expected.size() == 4 ? " and CN " + expected[3].second : ""));
    }
    if (profile_.environment == Environment::kStaging) {
      int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
      if (idx < 0 ||
          !Text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx))).starts_with("TEST")) {
        Add("subject", "staging certificate without TEST in the CN (CA-8)");
      }
    }
  }

  void CheckKey(X509* c) {
    const EVP_PKEY* key = X509_get0_pubkey(c);
    if (key == nullptr || request_.public_key == nullptr) {
      Add("public_key", "missing");
      return;
    }
    // The key must be the CSR's, which CheckCsr accepted with the full weakness analysis; lint
    // re-checks the profile's key parameters only.
    if (EVP_PKEY_eq(key, request_.public_key) != 1) Add("public_key", "differs from the CSR's key");
    ERR_clear_error();
    if (auto st = CheckKeyParameters(key, profile_); !st) Add("public_key", st.error().message);
  }

  void CheckExtensions(X509* c) {
    std::map<int, int> count;
    for (int i = 0; i < X509_get_ext_count(c); ++i) {
      X509_EXTENSION* ext = X509_get_ext(c, i);
      int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
      if (++count[nid] > 1) {
        Add("extensions", std::string("duplicate extension ") + OBJ_nid2sn(nid));
        continue;
      }
      bool critical = X509_EXTENSION_get_critical(ext) != 0;
      switch (nid) {
        case NID_basic_constraints:
          CheckBasicConstraints(ext, critical);
          break;
        case NID_key_usage:
          CheckKeyUsage(ext, critical);
          break;
        case NID_ext_key_usage:
          CheckEku(ext, critical);
          break;
        case NID_subject_key_identifier:
          CheckSki(c, ext, critical);
          break;
        case NID_authority_key_identifier:
          CheckAki(ext, critical);
          break;
        case NID_info_access:
          CheckAia(ext, critical);
          break;
        case NID_crl_distribution_points:
          CheckCrlDp(ext, critical);
          break;
        case NID_certificate_policies:
          CheckPolicies(ext, critical);
          break;
        case NID_subject_alt_name:
          CheckSan(ext, critical);
          break;
        default: {
          char oid[80];
          OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(ext), 1);
          Add("extensions", std::string("unexpected extension ") + oid);
        }
      }
    }
    static const std::pair<int, const char*> kRequired[] = {
        {NID_basic_constraints, "basic_constraints"},
        {NID_key_usage, "key_usage"},
        {NID_ext_key_usage, "extended_key_usage"},
        {NID_subject_key_identifier, "subject_key_identifier"},
        {NID_authority_key_identifier, "authority_key_identifier"},
        {NID_info_access, "authority_info_access"},
        {NID_crl_distribution_points, "crl_distribution_points"},
        {NID_certificate_policies, "certificate_policies"},
        {NID_subject_alt_name, "subject_alt_name"}};
    for (auto [nid, rule] : kRequired) {
      if (count[nid] == 0) Add(rule, "extension missing");
    }
  }

  template <class T, void (*Free)(T*)>
  ossl::Owned<T, Free> Decode(X509_EXTENSION* ext, const char* rule) {
    ossl::Owned<T, Free> value(static_cast<T*>(X509V3_EXT_d2i(ext)));
    if (!value) Add(rule, "cannot be decoded");
    return value;
  }

  void Criticality(const char* rule, bool critical, bool want) {
    if (critical != want) Add(rule, want ? "must be critical" : "must not be critical");
  }

  void CheckBasicConstraints(X509_EXTENSION* ext, bool critical) {
    Criticality("basic_constraints", critical, true);
    auto bc = Decode<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>(ext, "basic_constraints");
    if (bc && bc->ca != 0) Add("basic_constraints", "CA:TRUE in a subscriber certificate");
    if (bc && bc->pathlen != nullptr) Add("basic_constraints", "pathLenConstraint present");
  }

  void CheckKeyUsage(X509_EXTENSION* ext, bool critical) {
    Criticality("key_usage", critical, true);
    auto ku = Decode<ASN1_BIT_STRING, ASN1_BIT_STRING_free>(ext, "key_usage");
    if (!ku) return;
    for (int bit = 0; bit < 9; ++bit) {
      bool want = bit == 0 || bit == 2;  // digitalSignature, keyEncipherment
      if ((ASN1_BIT_STRING_get_bit(ku.get(), bit) != 0) != want) {
        Add("key_usage", "must be exactly digitalSignature and keyEncipherment (bit " +
                             std::to_string(bit) + " wrong)");
      }
    }
  }

  void CheckEku(X509_EXTENSION* ext, bool critical) {
    Criticality("extended_key_usage", critical, false);
    auto eku = Decode<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>(ext, "extended_key_usage");
    if (eku && (sk_ASN1_OBJECT_num(eku.get()) != 1 ||
                OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), 0)) != NID_server_auth)) {
      Add("extended_key_usage", "must be exactly serverAuth");
    }
  }

  void CheckSki(X509* c, X509_EXTENSION* ext, bool critical) {
    Criticality("subject_key_identifier", critical, false);
    auto ski = Decode<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>(ext, "subject_key_identifier");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (ski && (X509_pubkey_digest(c, EVP_sha1(), md, &len) != 1 ||
                ASN1_STRING_length(ski.get()) != static_cast<int>(len) ||
                std::memcmp(ASN1_STRING_get0_data(ski.get()), md, len) != 0)) {
      Add("subject_key_identifier",
          "is not the SHA-1 of the subject public key (RFC 5280 method 1)");
    }
  }

  void CheckAki(X509_EXTENSION* ext, bool critical) {
    Criticality("authority_key_identifier", critical, false);
    auto akid = Decode<AUTHORITY_KEYID, AUTHORITY_KEYID_free>(ext, "authority_key_identifier");
    if (!akid) return;
    const ASN1_OCTET_STRING* issuer_ski =
        X509_get0_subject_key_id(const_cast<X509*>(issuer_.certificate));
    if (akid->keyid == nullptr || issuer_ski == nullptr ||
        ASN1_OCTET_STRING_cmp(akid->keyid, issuer_ski) != 0) {
      Add("authority_key_identifier", "keyIdentifier is not the issuer's subjectKeyIdentifier");
    }
    if (akid->issuer != nullptr || akid->serial != nullptr) {
      Add("authority_key_identifier", "must hold the keyIdentifier only");
    }
  }

  std::optional<std::string> OneUri(const GENERAL_NAME* gn) {
    if (gn == nullptr || gn->type != GEN_URI) return std::nullopt;
    return Text(gn->d.uniformResourceIdentifier);
  }

  void CheckAia(X509_EXTENSION* ext, bool critical) {
    Criticality("authority_info_access", critical, false);
    auto aia =
        Decode<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free>(ext, "authority_info_access");
    if (!aia) return;
    std::vector<std::pair<int, std::optional<std::string>>> got;
    for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia.get()); ++i) {
      const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia.get(), i);
      got.emplace_back(OBJ_obj2nid(ad->method), OneUri(ad->location));
    }
    decltype(got) want = {{NID_ad_OCSP, issuer_.ocsp_url},
                          {NID_ad_ca_issuers, issuer_.ca_issuers_url}};
    if (got != want) {
      Add("authority_info_access",
          "must be exactly OCSP " + issuer_.ocsp_url + " and caIssuers " + issuer_.ca_issuers_url);
    }
  }

  void CheckCrlDp(X509_EXTENSION* ext, bool critical) {
    Criticality("crl_distribution_points", critical, false);
    auto dps = Decode<CRL_DIST_POINTS, CRL_DIST_POINTS_free>(ext, "crl_distribution_points");
    if (!dps) return;
    bool ok = sk_DIST_POINT_num(dps.get()) == 1;
    if (ok) {
      const DIST_POINT* dp = sk_DIST_POINT_value(dps.get(), 0);
      ok = dp->distpoint != nullptr && dp->distpoint->type == 0 && dp->reasons == nullptr &&
           dp->CRLissuer == nullptr && sk_GENERAL_NAME_num(dp->distpoint->name.fullname) == 1 &&
           OneUri(sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0)) == issuer_.crl_url;
    }
    if (!ok) Add("crl_distribution_points", "must be exactly one fullName URI " + issuer_.crl_url);
  }

  void CheckPolicies(X509_EXTENSION* ext, bool critical) {
    Criticality("certificate_policies", critical, false);
    auto policies =
        Decode<CERTIFICATEPOLICIES, CERTIFICATEPOLICIES_free>(ext, "certificate_policies");
    if (!policies) return;
    std::vector<std::string> got;
    for (int i = 0; i < sk_POLICYINFO_num(policies.get()); ++i) {
      const POLICYINFO* info = sk_POLICYINFO_value(policies.get(), i);
      char oid[128];
      OBJ_obj2txt(oid, sizeof(oid), info->policyid, 1);
      got.emplace_back(oid);
      if (info->qualifiers != nullptr) Add("certificate_policies", "unexpected policy qualifiers");
    }
    if (got != profile_.policy_oids) {
      std::string want;
      for (const auto& o : profile_.policy_oids) want += (want.empty() ? "" : ", ") + o;
      Add("certificate_policies", "must be exactly " + want);
    }
  }

  void CheckSan(X509_EXTENSION* ext, bool critical) {
    Criticality("subject_alt_name", critical, false);
    auto san = Decode<GENERAL_NAMES, GENERAL_NAMES_free>(ext, "subject_alt_name");
    if (!san) return;
    std::vector<std::string> got;
    for (int i = 0; i < sk_GENERAL_NAME_num(san.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(san.get(), i);
      if (gn->type != GEN_DNS) {
        Add("subject_alt_name", "holds a name that is not a dNSName");
        continue;
      }
      got.push_back(Text(gn->d.dNSName));
    }
    if (auto st = ValidateNames(profile_, got); !st) Add("subject_alt_name", st.error().message);
    if (got != request_.names) Add("subject_alt_name", "names differ from the request's");
  }

  const Profile& profile_;
  const Issuer& issuer_;
  const TbsRequest& request_;
  std::vector<LintFinding> findings_;
};

Result<ossl::Bytes> Encode(const X509* x) {
  unsigned char* der = nullptr;
  int len = i2d_X509(x, &der);
  if (len <= 0) return ossl::CryptoFail("encode certificate");
  ossl::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// The TBSCertificate as it is now (re-encoded: after signing, the bytes that were signed).
Result<ossl::Bytes> EncodeTbs(const X509* x) {
  unsigned char* der = nullptr;
  int len = i2d_re_X509_tbs(const_cast<X509*>(x), &der);
  if (len <= 0) return ossl::CryptoFail("encode TBSCertificate");
  ossl::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// Parses `der`, and checks the bytes are the canonical DER OpenSSL re-encodes.
ossl::X509Ptr ParseExact(std::span<const uint8_t> der, Linter& linter) {
  auto parsed = ossl::CertFromDer(der);
  if (!parsed) {
    linter.Add("der", parsed.error().message);
    return nullptr;
  }
  auto again = Encode(parsed->get());
  if (!again || !std::equal(again->begin(), again->end(), der.begin(), der.end())) {
    linter.Add("der", "the encoding is not canonical DER");
  }
  return std::move(*parsed);
}

}  // namespace

std::vector<LintFinding> LintTbsFindings(const X509* tbs, const Profile& profile,
                                         const Issuer& issuer, const TbsRequest& request) {
  Linter linter(profile, issuer, request);
  auto der = Encode(tbs);
  if (!der) {
    linter.Add("der", der.error().message);
    return linter.Take();
  }
  if (ossl::X509Ptr parsed = ParseExact(*der, linter)) linter.CheckParsed(parsed.get());
  return linter.Take();
}

std::vector<LintFinding> LintCertificateFindings(std::span<const uint8_t> der,
                                                 const Profile& profile, const Issuer& issuer,
                                                 const TbsRequest& request) {
  Linter linter(profile, issuer, request);
  ossl::X509Ptr parsed = ParseExact(der, linter);
  if (!parsed) return linter.Take();
  linter.CheckParsed(parsed.get());
  const X509_ALGOR* outer = nullptr;
  X509_get0_signature(nullptr, &outer, parsed.get());
  if (X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(parsed.get())) != 0) {
    linter.Add("signature", "outer signature algorithm differs from the TBS one");
  }
  EVP_PKEY* issuer_key =
      issuer.certificate != nullptr ? X509_get0_pubkey(issuer.certificate) : nullptr;
  if (issuer_key == nullptr || X509_verify(parsed.get(), issuer_key) != 1) {
    ossl::DrainErrors();
    linter.Add("signature", "does not verify with the issuer's key");
  }
  return linter.Take();
}

std::string FormatFindings(const std::vector<LintFinding>& findings) {
  std::string out = "lint:";
  for (size_t i = 0; i < findings.size(); ++i) {
    out += (i == 0 ? " " : "; ") + findings[i].rule + ": " + findings[i].detail;
  }
  return out;
}

Result<LintedTbs> LintTbs(const X509* tbs, const Profile& profile, const Issuer& issuer,
                          const TbsRequest& request) {
  Linter linter(profile, issuer, request);
  LintedTbs out;
  auto der = Encode(tbs);
  if (!der) return std::unexpected(der.error());
  out.certificate = ParseExact(*der, linter);
  if (out.certificate) linter.CheckParsed(out.certificate.get());
  auto findings = linter.Take();
  if (!findings.empty()) return Fail(ErrorCode::kInternal, FormatFindings(findings));
  out.der = std::move(*der);
  out.tbs_der = CA_TRY(EncodeTbs(out.certificate.get()));
  return out;
}

Status CheckSignedAsLinted(const X509* certificate, const LintedTbs& linted) {
  auto tbs = EncodeTbs(certificate);
  if (!tbs) return std::unexpected(tbs.error());
  if (*tbs != linted.tbs_der) {
    return Fail(ErrorCode::kInternal, "lint: der: the signed TBSCertificate differs from the linted one");
  }
  const X509_ALGOR* outer = nullptr;
  X509_get0_signature(nullptr, &outer, certificate);
  if (X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(certificate)) != 0) {
    return Fail(ErrorCode::kInternal,
                "lint: signature: outer signature algorithm differs from the TBS one");
  }
  return Ok();
}

Status LintCertificate(const X509* certificate, const Profile& profile, const Issuer& issuer,
                       const TbsRequest& request) {
  auto der = Encode(certificate);
  if (!der) return std::unexpected(der.error());
  auto findings = LintCertificateFindings(*der, profile, issuer, request);
  if (!findings.empty()) return Fail(ErrorCode::kInternal, FormatFindings(findings));
  return Ok();
}

}  // namespace ca::issuance
