// Certificate profiles (profiles::policy::kAllProfiles: SSL, SSL_RGS, WILD, SSL_SHORT, and any the
// operator defines beside them) loaded from JSON data files (profiles/data/). A profile says what a
// certificate of that kind contains, which revocation information it carries and which subscriber
// keys it accepts; the CA instance (issuer certificate, OCSP/CRL/caIssuers URLs) is supplied
// separately (tbs.h: Issuer).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "profiles/policy/profile_id.h"

namespace ca::profiles::issuance {

using profiles::policy::ProfileId;

// Production and staging CAs are separate instances with separate profile directories (CA-8).
enum class Environment { kProduction, kStaging };
std::string_view EnvironmentName(Environment env);  // "production" / "staging"

enum class WildcardRule {
  kForbidden,  // SSL, SSL_RGS, SSL_SHORT: no name may be a wildcard
  kRequired,   // WILD: every name must be a wildcard ("*.example.com")
};

// The CA/Browser Forum Organization Validated policy; every profile asserts it first.
inline constexpr std::string_view kCabfOvPolicyOid = "2.23.140.1.2.2";
// CA-4: the only key usages and extended key usage a subscriber certificate may carry.
inline constexpr std::string_view kKeyUsageDigitalSignature = "digitalSignature";
inline constexpr std::string_view kKeyUsageKeyEncipherment = "keyEncipherment";
inline constexpr std::string_view kEkuServerAuth = "serverAuth";
// Hard caps no data file can raise.
inline constexpr std::chrono::seconds kMaxValidityCap = std::chrono::days(90);
// A short-lived subscriber certificate (CA/B BR 1.2.1 as amended by ballot SC-063: validity at most
// 7 days from 15 March 2026) may carry no revocation pointer at all: no OCSP URL, no CRL
// distribution point. Only a profile whose max_validity is at most this may turn its CRL off, and
// SSL_SHORT must be such a profile. The data file sets the profile's validity below it.
inline constexpr std::chrono::seconds kShortLivedMaxValidity = std::chrono::days(7);
inline constexpr std::chrono::seconds kMaxBackdateCap = std::chrono::hours(1);
inline constexpr int kMaxNamesCap = 100;
// Staging certificates carry this in the subject CN (CA-8): CN = "TEST <first name>".
inline constexpr std::string_view kStagingCnPrefix = "TEST ";
inline constexpr int kRequiredPublicExponent = 65537;

// Which revocation information the certificates of a profile point to (the data file's
// "revocation" object). OCSP off: no id-ad-ocsp in the AIA (caIssuers stays), and the engine signs
// no OCSP response for them. CRL off: no cRLDistributionPoints; allowed only for a short-lived
// profile (IsShortLived), as SC-063 allows. A revoked certificate is listed in the CRLs whatever
// these say: relying parties that check a CRL find it there.
struct RevocationInfo {
  bool ocsp = true;
  bool crl = true;
};

struct Profile {
  ProfileId id = ProfileId::kSsl;
  Environment environment = Environment::kProduction;
  bool enabled = true;      // the operator can switch a profile (typically WILD) off (CA-6)
  std::string description;  // free text for operators
  // Allowed subscriber keys. The shipped profiles take RSA 3072 only (the operator's technical
  // document); an operator's profile may take RSA 3072/4096 and ECDSA P-256/P-384, at least one.
  std::vector<int> rsa_key_bits;         // allowed RSA modulus sizes, ascending
  std::vector<std::string> ec_curves;    // allowed ECDSA curves: "P-256", "P-384"
  std::chrono::seconds max_validity{0};  // inclusive validity length, ≤ 90 days (whole hours)
  std::chrono::seconds backdate{0};      // notBefore = now − backdate, ≤ 1 hour
  std::vector<std::string> policy_oids;  // dotted; kCabfOvPolicyOid first, then the profile's own
  WildcardRule wildcards = WildcardRule::kForbidden;
  int max_names = 0;                            // SAN entries per certificate, 1..100
  std::vector<std::string> key_usage;           // exactly digitalSignature, keyEncipherment
  std::vector<std::string> extended_key_usage;  // exactly serverAuth
  RevocationInfo revocation;

  // "" in production, kStagingCnPrefix in staging.
  std::string_view SubjectCnPrefix() const;
  bool AllowsRsaBits(int bits) const;
  bool AllowsEcCurve(std::string_view curve) const;  // "P-256", "P-384"
  // "RSA 3072", "RSA 3072 or ECDSA P-256": the accepted keys, for error messages.
  std::string AcceptedKeysText() const;
  // max_validity ≤ kShortLivedMaxValidity.
  bool IsShortLived() const;
};

// Parses and validates one profile document. Every field is required (but ec_curves), unknown
// keys are refused, and the first defect is reported as kInvalidArgument naming the field. The
// same rules for the shipped profiles and an operator's, which may not loosen a shipped one: a
// document named SSL, SSL_RGS, WILD or SSL_SHORT takes RSA 3072 keys only.
Result<Profile> ParseProfileJson(std::string_view json_text);

// Loads "<dir>/<NAME>.json" (NAME = a ProfileName) and checks that its "profile" field names
// `id`. Missing file: kNotFound.
Result<Profile> LoadProfile(ProfileId id, const std::string& dir);

// Loads every profile of a directory: each "<NAME>.json" is a profile (NAME well-formed,
// policy::ProfileId), every one of kAllProfiles must be there, and all belong to `environment`.
Result<std::map<ProfileId, Profile>> LoadProfiles(const std::string& dir, Environment environment);

}  // namespace ca::profiles::issuance
