#include "pki/lint.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>
#include <set>

#include "pki/lint_rules.h"

namespace ca::pki {

namespace {

using namespace lint_rules;

class Linter {
 public:
  Linter(const X509* issuer, CertRole role, const LintOptions& options)
      : issuer_(issuer), role_(role), options_(options), expect_(options.expect) {}

  void Add(std::string rule, std::string detail) {
    findings_.push_back({std::move(rule), std::move(detail)});
  }
  std::vector<LintFinding> Take() { return std::move(findings_); }

  // The rules on the parsed certificate `c` (its TBS: the signature is checked apart).
  void CheckParsed(X509* c) {
    if (issuer_ == nullptr) {
      Add("issuer", "no issuer certificate to compare with");
      return;
    }
    if (role_ == CertRole::kRoot) issuer_ = c;  // a root is checked against itself
    X509_get_extension_flags(c);                // computes the cached extension values read below
    X509_get_extension_flags(const_cast<X509*>(issuer_));
    CheckHeader(c);
    CheckValidity(c);
    CheckSubject(c);
    CheckKey(c);
    CheckExtensions(c);
  }

  void CheckSignature(X509* c) {
    const X509_ALGOR* outer = nullptr;
    X509_get0_signature(nullptr, &outer, c);
    if (X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(c)) != 0) {
      Add("signature", "outer signature algorithm differs from the TBS one");
    }
    const X509* issuer = role_ == CertRole::kRoot ? c : issuer_;
    EVP_PKEY* key = issuer != nullptr ? X509_get0_pubkey(issuer) : nullptr;
    if (key == nullptr || X509_verify(c, key) != 1) {
      ossl::DrainErrors();
      Add("signature", "does not verify with the issuer's key");
    }
  }

 private:
  std::string RoleText() const { return std::string(CertRoleName(role_)); }

  void CheckHeader(X509* c) {
    if (X509_get_version(c) != X509_VERSION_3) Add("version", "not version 3");
    CheckSerial(X509_get0_serialNumber(c));
    CheckSignatureAlgorithm(X509_get0_tbs_sigalg(c));
    if (NameDer(X509_get_issuer_name(c)) != NameDer(X509_get_subject_name(issuer_))) {
      Add("issuer", "issuer name differs from the issuing CA's subject");
    }
    if (role_ == CertRole::kRoot &&
        X509_NAME_cmp(X509_get_issuer_name(c), X509_get_subject_name(c)) != 0) {
      Add("issuer", "a root must be self-issued");
    }
    const ASN1_BIT_STRING* iuid = nullptr;
    const ASN1_BIT_STRING* suid = nullptr;
    X509_get0_uids(c, &iuid, &suid);
    if (iuid != nullptr || suid != nullptr) Add("unique_ids", "issuer/subject unique IDs present");
  }

  void CheckSerial(const ASN1_INTEGER* serial) {
    if (serial == nullptr) return Add("serial", "no serial number");
    const unsigned char* data = ASN1_STRING_get0_data(serial);
    int len = ASN1_STRING_length(serial);
    if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) Add("serial", "serial number is negative");
    if (std::all_of(data, data + len, [](unsigned char b) { return b == 0; })) {
      return Add("serial", "serial number is zero");
    }
    int der_len = len + ((data[0] & 0x80) != 0 ? 1 : 0);
    if (der_len > 20) Add("serial", "serial number longer than 20 octets");
    if (expect_ != nullptr) {
      if (ossl::Bytes(data, data + len) != expect_->serial.magnitude) {
        Add("serial", "differs from the reserved serial");
      }
    } else if (len < 16) {
      Add("serial", "serial number shorter than 16 octets (" + std::to_string(len) + ")");
    }
  }

  void CheckSignatureAlgorithm(const X509_ALGOR* alg) {
    const ASN1_OBJECT* oid = nullptr;
    int param_type = 0;
    X509_ALGOR_get0(&oid, &param_type, nullptr, alg);
    int nid = OBJ_obj2nid(oid);
    if (expect_ != nullptr) {
      if (nid != expect_->signature_nid) {
        return Add("signature_algorithm", "not the algorithm of the issuer's key");
      }
    } else {
      static constexpr int kAllowed[] = {NID_sha256WithRSAEncryption, NID_sha384WithRSAEncryption,
                                         NID_sha512WithRSAEncryption, NID_ecdsa_with_SHA256,
                                         NID_ecdsa_with_SHA384};
      if (std::find(std::begin(kAllowed), std::end(kAllowed), nid) == std::end(kAllowed)) {
        return Add("signature_algorithm",
                   std::string("signature algorithm not allowed: ") + OBJ_nid2sn(nid));
      }
    }
    bool rsa = nid != NID_ecdsa_with_SHA256 && nid != NID_ecdsa_with_SHA384;
    if (param_type != (rsa ? V_ASN1_NULL : V_ASN1_UNDEF)) {
      Add("signature_algorithm", "wrong AlgorithmIdentifier parameters");
    }
  }

  void CheckValidity(X509* c) {
    const ASN1_TIME* nb = X509_get0_notBefore(c);
    const ASN1_TIME* na = X509_get0_notAfter(c);
    auto not_before = Seconds(nb);
    auto not_after = Seconds(na);
    if (!not_before || !not_after) return Add("validity", "unreadable notBefore/notAfter");
    for (auto [t, v] : {std::pair{nb, *not_before}, std::pair{na, *not_after}}) {
      // RFC 5280 §4.1.2.5: UTCTime before 2050-01-01, GeneralizedTime from then on.
      int want = v < 2524608000 ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME;
      if (ASN1_STRING_type(t) != want) Add("validity", "time not encoded as RFC 5280 requires");
    }
    int64_t length = *not_after - *not_before + 1;  // inclusive (RFC 5280 §4.1.2.5)
    if (length <= 1) return Add("validity", "notAfter is not after notBefore");
    if (expect_ != nullptr) return CheckRequestedValidity(*not_before, *not_after, length);
    static constexpr int64_t kDay = 86400;
    int64_t max_days = role_ == CertRole::kRoot           ? 9132
                       : role_ == CertRole::kIntermediate ? 3653
                       : role_ == CertRole::kLeaf         ? 397
                                                          : 398;
    int64_t days = (length - 1 + kDay - 1) / kDay;
    if (days > max_days) {
      Add("validity", "validity of " + std::to_string(days) + " days exceeds " +
                          std::to_string(max_days) + " for a " + RoleText());
    }
    if (role_ != CertRole::kRoot) {
      if (ASN1_TIME_compare(na, X509_get0_notAfter(issuer_)) > 0) {
        Add("validity", "notAfter is later than the issuer's notAfter");
      }
      if (ASN1_TIME_compare(nb, X509_get0_notBefore(issuer_)) < 0) {
        Add("validity", "notBefore is earlier than the issuer's notBefore");
      }
    }
  }

  void CheckRequestedValidity(int64_t not_before, int64_t not_after, int64_t length) {
    if (length > expect_->max_validity.count()) {
      Add("validity", "validity of " + std::to_string(length) + " s exceeds the profile's " +
                          std::to_string(expect_->max_validity.count()) + " s");
    }
    if (not_before != expect_->not_before.time_since_epoch().count() ||
        not_after != expect_->not_after.time_since_epoch().count()) {
      Add("validity",
          "notBefore/notAfter differ from the request (length " + std::to_string(length) + " s)");
    }
  }

  void CheckSubject(X509* c) {
    const X509_NAME* subject = X509_get_subject_name(c);
    std::vector<std::pair<int, std::string>> actual;
    bool has_test = false;
    for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
      const X509_NAME_ENTRY* e = X509_NAME_get_entry(subject, i);
      int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
      const ASN1_STRING* data = X509_NAME_ENTRY_get_data(e);
      if (nid == NID_countryName && ASN1_STRING_type(data) != V_ASN1_PRINTABLESTRING) {
        Add("subject", "C is not a PrintableString");
      }
      if (expect_ != nullptr && nid != NID_countryName &&
          ASN1_STRING_type(data) != V_ASN1_UTF8STRING) {
        Add("subject", std::string(OBJ_nid2sn(nid)) + " is not a UTF8String");
      }
      actual.emplace_back(nid, Text(data));
      if (nid == NID_commonName && actual.back().second.find("TEST") != std::string::npos) {
        has_test = true;
      }
    }
    if (expect_ != nullptr && actual != expect_->subject) {
      std::string shown, wanted;
      for (auto& [nid, v] : actual)
        shown += (shown.empty() ? "" : ", ") + std::string(OBJ_nid2sn(nid)) + "=" + v;
      for (auto& [nid, v] : expect_->subject)
        wanted += (wanted.empty() ? "" : ", ") + std::string(OBJ_nid2sn(nid)) + "=" + v;
      Add("subject", "subject is [" + shown + "], expected [" + wanted + "]");
    }
    if (options_.staging && !has_test) {
      Add("subject", "staging certificate without TEST in its CN (CA-8)");
    }
  }

  void CheckKey(X509* c) {
    const EVP_PKEY* key = X509_get0_pubkey(c);
    if (key == nullptr) return Add("public_key", "missing or unreadable");
    if (expect_ != nullptr) {
      // The key must be the CSR's, which the issuer accepted with the full weakness analysis;
      // lint re-checks the profile's key parameters only.
      if (expect_->public_key == nullptr || EVP_PKEY_eq(key, expect_->public_key) != 1) {
        Add("public_key", "differs from the CSR's key");
      }
      ERR_clear_error();
      if (expect_->check_key) {
        if (auto st = expect_->check_key(key); !st) Add("public_key", st.error().message);
      }
      return;
    }
    bool rsa = EVP_PKEY_is_a(key, "RSA");
    bool ec = EVP_PKEY_is_a(key, "EC");
    int bits = EVP_PKEY_get_bits(key);
    std::string curve;
    char name[64] = {};
    size_t len = 0;
    if (ec && EVP_PKEY_get_utf8_string_param(key, "group", name, sizeof(name), &len) == 1) {
      curve = name;
    }
    bool rsa_ca = rsa && (bits == 3072 || bits == 4096);
    bool ok = false;
    switch (role_) {
      case CertRole::kRoot:
        ok = rsa_ca || (ec && curve == "secp384r1");
        break;
      case CertRole::kIntermediate:
        ok = rsa_ca;
        break;
      case CertRole::kOcspSigner:
        ok = rsa_ca || (ec && curve == "prime256v1");
        break;
      case CertRole::kLeaf:
        // RSA 3072 (the shipped profiles); ECDSA P-256/P-384 (an operator's profile).
        ok = (rsa && bits == 3072) || (ec && (curve == "prime256v1" || curve == "secp384r1"));
        break;
    }
    if (!ok) {
      Add("public_key", "key type not allowed for a " + RoleText() + " (" +
                            (rsa  ? "RSA " + std::to_string(bits)
                             : ec ? "EC " + curve
                                  : std::string("other")) +
                            ")");
    }
  }

  void CheckExtensions(X509* c) {
    if (X509_get_extension_flags(c) & EXFLAG_INVALID) {
      Add("extensions", "an extension does not parse");
    }
    RoleExtensions exts = ExtensionsOf(role_, expect_ != nullptr);
    if (expect_ != nullptr && expect_->crl_url.empty()) {  // a profile without CRL pointer
      exts.allowed.erase(NID_crl_distribution_points);
      std::erase(exts.required, NID_crl_distribution_points);
    }
    std::map<int, int> count;
    for (int i = 0; i < X509_get_ext_count(c); ++i) {
      X509_EXTENSION* ext = X509_get_ext(c, i);
      int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
      if (++count[nid] > 1) {
        Add("extensions", std::string("duplicate extension ") + OBJ_nid2sn(nid));
        continue;
      }
      if (!exts.allowed.contains(nid)) {
        Add("extensions", "unexpected extension " + Oid(X509_EXTENSION_get_object(ext)) + " on a " +
                              RoleText() + " certificate");
        continue;
      }
      CheckExtension(c, nid, ext, X509_EXTENSION_get_critical(ext) != 0);
    }
    for (int nid : exts.required) {
      if (count[nid] == 0) Add(RuleOf(nid), "extension missing");
    }
  }

  void CheckExtension(X509* c, int nid, X509_EXTENSION* ext, bool critical) {
    switch (nid) {
      case NID_basic_constraints:
        return CheckBasicConstraints(ext, critical);
      case NID_key_usage:
        return CheckKeyUsage(c, ext, critical);
      case NID_ext_key_usage:
        return CheckEku(ext, critical);
      case NID_subject_key_identifier:
        return CheckSki(c, ext, critical);
      case NID_authority_key_identifier:
        return CheckAki(ext, critical);
      case NID_info_access:
        return CheckAia(ext, critical);
      case NID_crl_distribution_points:
        return CheckCrlDp(ext, critical);
      case NID_certificate_policies:
        return CheckPolicies(ext, critical);
      case NID_subject_alt_name:
        return CheckSan(c, ext, critical);
      case NID_name_constraints:
        return Criticality("name_constraints", critical, true);
      case NID_id_pkix_OCSP_noCheck:
        return Criticality("ocsp_nocheck", critical, false);
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
    if (!bc) return;
    bool want_ca = role_ == CertRole::kRoot || role_ == CertRole::kIntermediate;
    if ((bc->ca != 0) != want_ca) {
      Add("basic_constraints",
          want_ca ? "CA:FALSE on a CA" : "CA:TRUE on a " + RoleText() + " certificate");
    }
    if (!want_ca) {
      if (bc->pathlen != nullptr) Add("basic_constraints", "pathLenConstraint on a non-CA");
      return;
    }
    long want_len = role_ == CertRole::kRoot ? 1 : 0;
    if (bc->pathlen == nullptr) {
      Add("basic_constraints", "pathLenConstraint missing (want " + std::to_string(want_len) + ")");
    } else if (ASN1_INTEGER_get(bc->pathlen) != want_len) {
      Add("basic_constraints", "pathLenConstraint is " +
                                   std::to_string(ASN1_INTEGER_get(bc->pathlen)) + " (want " +
                                   std::to_string(want_len) + ")");
    }
  }

  void CheckKeyUsage(X509* c, X509_EXTENSION* ext, bool critical) {
    Criticality("key_usage", critical, true);
    auto ku = Decode<ASN1_BIT_STRING, ASN1_BIT_STRING_free>(ext, "key_usage");
    if (!ku) return;
    std::set<int> want = {5, 6};  // keyCertSign, cRLSign
    std::string text = "keyCertSign, cRLSign";
    if (role_ == CertRole::kOcspSigner || role_ == CertRole::kLeaf) {
      want = {0};
      text = "digitalSignature";
      const EVP_PKEY* key = X509_get0_pubkey(c);
      if (role_ == CertRole::kLeaf && key != nullptr && EVP_PKEY_is_a(key, "RSA")) {
        want.insert(2);  // TLS 1.2 RSA key exchange encrypts to the key
        text += ", keyEncipherment";
      }
    }
    for (int bit = 0; bit < 9; ++bit) {
      if ((ASN1_BIT_STRING_get_bit(ku.get(), bit) != 0) != want.contains(bit)) {
        Add("key_usage", "must be exactly " + text + " (bit " + std::to_string(bit) + " wrong)");
      }
    }
  }

  void CheckEku(X509_EXTENSION* ext, bool critical) {
    Criticality("extended_key_usage", critical, false);
    auto eku = Decode<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>(ext, "extended_key_usage");
    int want = role_ == CertRole::kOcspSigner ? NID_OCSP_sign : NID_server_auth;
    if (eku && (sk_ASN1_OBJECT_num(eku.get()) != 1 ||
                OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), 0)) != want)) {
      Add("extended_key_usage", std::string("must be exactly ") + OBJ_nid2sn(want));
    }
  }

  void CheckSki(X509* c, X509_EXTENSION* ext, bool critical) {
    Criticality("subject_key_identifier", critical, false);
    auto ski = Decode<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>(ext, "subject_key_identifier");
    // CA keys on a token use the token's CKA_ID; a leaf's is always RFC 5280 method 1.
    if (!ski || role_ != CertRole::kLeaf) return;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_pubkey_digest(c, EVP_sha1(), md, &len) != 1 ||
        ASN1_STRING_length(ski.get()) != static_cast<int>(len) ||
        std::memcmp(ASN1_STRING_get0_data(ski.get()), md, len) != 0) {
      Add("subject_key_identifier",
          "is not the SHA-1 of the subject public key (RFC 5280 method 1)");
    }
  }

  void CheckAki(X509_EXTENSION* ext, bool critical) {
    Criticality("authority_key_identifier", critical, false);
    auto akid = Decode<AUTHORITY_KEYID, AUTHORITY_KEYID_free>(ext, "authority_key_identifier");
    if (!akid) return;
    const ASN1_OCTET_STRING* issuer_ski = X509_get0_subject_key_id(const_cast<X509*>(issuer_));
    if (akid->keyid == nullptr || issuer_ski == nullptr ||
        ASN1_OCTET_STRING_cmp(akid->keyid, issuer_ski) != 0) {
      Add("authority_key_identifier", "keyIdentifier is not the issuer's subjectKeyIdentifier");
    }
    if (akid->issuer != nullptr || akid->serial != nullptr) {
      Add("authority_key_identifier", "must hold the keyIdentifier only");
    }
  }

  static std::optional<std::string> OneUri(const GENERAL_NAME* gn) {
    if (gn == nullptr || gn->type != GEN_URI) return std::nullopt;
    return Text(gn->d.uniformResourceIdentifier);
  }

  void CheckAia(X509_EXTENSION* ext, bool critical) {
    Criticality("authority_info_access", critical, false);
    auto aia =
        Decode<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free>(ext, "authority_info_access");
    if (!aia || expect_ == nullptr) return;
    std::vector<std::pair<int, std::optional<std::string>>> got;
    for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia.get()); ++i) {
      const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia.get(), i);
      got.emplace_back(OBJ_obj2nid(ad->method), OneUri(ad->location));
    }
    decltype(got) want;
    if (!expect_->ocsp_url.empty()) want.emplace_back(NID_ad_OCSP, expect_->ocsp_url);
    want.emplace_back(NID_ad_ca_issuers, expect_->ca_issuers_url);
    if (got != want) {
      Add("authority_info_access",
          "must be exactly " +
              (expect_->ocsp_url.empty() ? std::string() : "OCSP " + expect_->ocsp_url + " and ") +
              "caIssuers " + expect_->ca_issuers_url);
    }
  }

  void CheckCrlDp(X509_EXTENSION* ext, bool critical) {
    Criticality("crl_distribution_points", critical, false);
    auto dps = Decode<CRL_DIST_POINTS, CRL_DIST_POINTS_free>(ext, "crl_distribution_points");
    if (!dps || expect_ == nullptr) return;
    bool ok = sk_DIST_POINT_num(dps.get()) == 1;
    if (ok) {
      const DIST_POINT* dp = sk_DIST_POINT_value(dps.get(), 0);
      ok = dp->distpoint != nullptr && dp->distpoint->type == 0 && dp->reasons == nullptr &&
           dp->CRLissuer == nullptr && sk_GENERAL_NAME_num(dp->distpoint->name.fullname) == 1 &&
           OneUri(sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0)) == expect_->crl_url;
    }
    if (!ok) Add("crl_distribution_points", "must be exactly one fullName URI " + expect_->crl_url);
  }

  void CheckPolicies(X509_EXTENSION* ext, bool critical) {
    Criticality("certificate_policies", critical, false);
    auto policies =
        Decode<CERTIFICATEPOLICIES, CERTIFICATEPOLICIES_free>(ext, "certificate_policies");
    if (!policies || expect_ == nullptr) return;
    std::vector<std::string> got;
    for (int i = 0; i < sk_POLICYINFO_num(policies.get()); ++i) {
      const POLICYINFO* info = sk_POLICYINFO_value(policies.get(), i);
      got.push_back(Oid(info->policyid));
      if (info->qualifiers != nullptr) Add("certificate_policies", "unexpected policy qualifiers");
    }
    if (got != expect_->policy_oids) {
      std::string want;
      for (const auto& o : expect_->policy_oids) want += (want.empty() ? "" : ", ") + o;
      Add("certificate_policies", "must be exactly " + want);
    }
  }

  void CheckSan(X509* c, X509_EXTENSION* ext, bool critical) {
    // Non-critical: the subject is never empty (RFC 5280 §4.2.1.6).
    Criticality("subject_alt_name", critical, false);
    auto san = Decode<GENERAL_NAMES, GENERAL_NAMES_free>(ext, "subject_alt_name");
    if (!san) return;
    if (sk_GENERAL_NAME_num(san.get()) == 0) Add("subject_alt_name", "empty");
    std::vector<std::string> dns;
    for (int i = 0; i < sk_GENERAL_NAME_num(san.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(san.get(), i);
      if (gn->type == GEN_DNS) {
        dns.push_back(Text(gn->d.dNSName));
      } else if (expect_ != nullptr || gn->type != GEN_IPADD) {
        Add("subject_alt_name", expect_ != nullptr ? "holds a name that is not a dNSName"
                                                   : "holds a name that is neither a dNSName "
                                                     "nor an iPAddress");
      }
    }
    if (expect_ != nullptr) {
      if (expect_->check_names) {
        if (auto st = expect_->check_names(dns); !st) Add("subject_alt_name", st.error().message);
      }
      if (dns != expect_->dns_names) Add("subject_alt_name", "names differ from the request's");
    }
    if (auto allowed = CheckNameConstraints(c, issuer_); !allowed) {
      Add("subject_alt_name",
          "names not allowed by the issuer's name constraints (" + allowed.error().message + ")");
    }
  }

  const X509* issuer_;
  CertRole role_;
  const LintOptions& options_;
  const LeafExpectations* expect_;
  std::vector<LintFinding> findings_;
};

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
  auto again = ossl::CertToDer(parsed->get());
  if (!again || !std::equal(again->begin(), again->end(), der.begin(), der.end())) {
    linter.Add("der", "the encoding is not canonical DER");
  }
  return std::move(*parsed);
}

}  // namespace

std::vector<LintFinding> LintCertificateDer(std::span<const uint8_t> der, const X509* issuer,
                                            CertRole role, const LintOptions& options) {
  Linter linter(issuer, role, options);
  ossl::X509Ptr parsed = ParseExact(der, linter);
  if (!parsed) return linter.Take();
  linter.CheckParsed(parsed.get());
  linter.CheckSignature(parsed.get());
  return linter.Take();
}

std::vector<LintFinding> LintCertificate(const X509* cert, const X509* issuer, CertRole role,
                                         const LintOptions& options) {
  auto der = ossl::CertToDer(cert);
  if (!der) return {{"der", der.error().message}};
  return LintCertificateDer(*der, issuer, role, options);
}

std::vector<LintFinding> LintTbsFindings(const X509* tbs, const X509* issuer, CertRole role,
                                         const LintOptions& options) {
  Linter linter(issuer, role, options);
  auto der = ossl::CertToDer(tbs);
  if (!der) return {{"der", der.error().message}};
  if (ossl::X509Ptr parsed = ParseExact(*der, linter)) linter.CheckParsed(parsed.get());
  return linter.Take();
}

Result<LintedTbs> LintTbs(const X509* tbs, const X509* issuer, CertRole role,
                          const LintOptions& options) {
  Linter linter(issuer, role, options);
  LintedTbs out;
  out.der = CA_TRY(ossl::CertToDer(tbs));
  out.certificate = ParseExact(out.der, linter);
  if (out.certificate) linter.CheckParsed(out.certificate.get());
  CA_TRY_STATUS(FindingsStatus(linter.Take()));
  out.tbs_der = CA_TRY(EncodeTbs(out.certificate.get()));
  return out;
}

Status CheckSignedAsLinted(const X509* certificate, const LintedTbs& linted) {
  ossl::Bytes tbs = CA_TRY(EncodeTbs(certificate));
  if (tbs != linted.tbs_der) {
    return Fail(ErrorCode::kInternal,
                "lint: der: the signed TBSCertificate differs from the linted one");
  }
  const X509_ALGOR* outer = nullptr;
  X509_get0_signature(nullptr, &outer, certificate);
  if (X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(certificate)) != 0) {
    return Fail(ErrorCode::kInternal,
                "lint: signature: outer signature algorithm differs from the TBS one");
  }
  return Ok();
}

}  // namespace ca::pki
