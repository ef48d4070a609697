#include "profiles/issuance/profile.h"

#include <openssl/objects.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "common/openssl.h"
#include "pki/json_fields.h"

namespace ca::profiles::issuance {

namespace {

using nlohmann::json;

using pki::JsonFields;

// Parses JSON text, refusing duplicate keys (nlohmann would silently keep the last one).
Result<json> ParseStrict(std::string_view text) {
  std::vector<std::set<std::string>> keys_per_object;
  std::string duplicate;
  auto callback = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) keys_per_object.emplace_back();
    if (event == json::parse_event_t::object_end && !keys_per_object.empty()) {
      keys_per_object.pop_back();
    }
    if (event == json::parse_event_t::key && !keys_per_object.empty() && duplicate.empty() &&
        !keys_per_object.back().insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  try {
    json doc = json::parse(text.begin(), text.end(), callback);
    if (!duplicate.empty()) {
      return Fail(ErrorCode::kInvalidArgument, "profile: duplicate key '" + duplicate + "'");
    }
    return doc;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, std::string("profile: not valid JSON: ") + e.what());
  }
}

// A non-empty list of strings without duplicates.
Result<std::vector<std::string>> UniqueList(JsonFields& f, std::string_view field) {
  std::vector<std::string> out = CA_TRY(f.StringList(field));
  if (out.empty()) return f.Bad(field, "must be a non-empty array of strings");
  for (auto it = out.begin(); it != out.end(); ++it) {
    if (std::find(out.begin(), it, *it) != it) return f.Bad(field, "duplicate '" + *it + "'");
  }
  return out;
}

Result<std::vector<int>> RsaKeyBits(JsonFields& f) {
  const json* bits = CA_TRY(f.Value("rsa_key_bits"));
  if (!bits->is_array()) return f.Bad("rsa_key_bits", "must be an array");
  std::vector<int> out;
  for (const json& b : *bits) {
    if (!b.is_number_integer() || (b.get<int64_t>() != 3072 && b.get<int64_t>() != 4096)) {
      return f.Bad("rsa_key_bits", "allowed sizes are 3072 and 4096");
    }
    int n = b.get<int>();
    if (std::find(out.begin(), out.end(), n) != out.end()) {
      return f.Bad("rsa_key_bits", "duplicate " + std::to_string(n));
    }
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Optional "ec_curves": ECDSA curves an operator's profile accepts (none when absent).
Result<std::vector<std::string>> EcCurves(JsonFields& f) {
  std::vector<std::string> out =
      CA_TRY(f.OptionalStringList("ec_curves")).value_or(std::vector<std::string>{});
  for (auto it = out.begin(); it != out.end(); ++it) {
    if (std::find(out.begin(), it, *it) != it) return f.Bad("ec_curves", "duplicate '" + *it + "'");
  }
  for (const std::string& c : out) {
    if (c != "P-256" && c != "P-384")
      return f.Bad("ec_curves", "allowed curves are P-256 and P-384");
  }
  return out;
}

// The keys of the profile: a shipped profile takes RSA 3072 only (the operator's technical
// document: "Only key length 3072 is supported"); a client that cannot make such a key is served
// by a profile of the operator's own, never by loosening these.
Status CheckKeyRule(JsonFields& f, const Profile& p) {
  if (profiles::policy::IsShippedProfile(p.id) &&
      (p.rsa_key_bits != std::vector<int>{3072} || !p.ec_curves.empty())) {
    return f.Bad(p.ec_curves.empty() ? "rsa_key_bits" : "ec_curves",
                 std::string(profiles::policy::ProfileName(p.id)) +
                     " takes RSA 3072 keys only (the operator's technical document); define a "
                     "profile of your own for other keys");
  }
  if (p.rsa_key_bits.empty() && p.ec_curves.empty()) {
    return f.Bad("rsa_key_bits", "the profile accepts no key: give rsa_key_bits or ec_curves");
  }
  return Ok();
}

// Dotted decimal, at least two arcs, no leading zeros, and accepted by OpenSSL.
bool IsDottedOid(const std::string& s) {
  if (s.empty() || s.front() == '.' || s.back() == '.' || s.find("..") != std::string::npos) {
    return false;
  }
  if (s.find('.') == std::string::npos) return false;
  if (s[0] < '0' || s[0] > '2' || (s.size() > 1 && s[1] != '.')) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.') continue;
    if (c < '0' || c > '9') return false;
    bool arc_start = i == 0 || s[i - 1] == '.';
    bool arc_continues = i + 1 < s.size() && s[i + 1] != '.';
    if (arc_start && c == '0' && arc_continues) return false;
  }
  ossl::Asn1Object obj(OBJ_txt2obj(s.c_str(), 1));
  return obj != nullptr;
}

// The validity is given in days ("max_validity_days", 1..90) or in hours ("max_validity_hours",
// 1..2160), exactly one of them. Days are the unit of the long profiles and of the Baseline
// Requirements' limits; hours let a short-lived profile say what the ACME world uses (Let's
// Encrypt's short-lived certificates are 160 hours, not a whole number of days) without a second
// kind of profile. Either way it is stored in seconds; nothing below an hour is offered, because
// renewal windows (ARI) and OCSP/CRL freshness are counted in hours.
Result<std::chrono::seconds> MaxValidity(JsonFields& f) {
  auto days = CA_TRY(f.OptionalIntIn("max_validity_days", 1, 90));
  auto hours = CA_TRY(f.OptionalIntIn("max_validity_hours", 1, 90 * 24));
  if (days && hours) {
    return f.Bad("max_validity_hours", "give max_validity_days or max_validity_hours, not both");
  }
  if (hours) return std::chrono::hours(*hours);
  if (days) return std::chrono::days(*days);
  return f.Bad("max_validity_days", "missing (or give max_validity_hours)");
}

std::string DaysText(std::chrono::seconds s) {
  std::string whole = std::to_string(s.count() / 86400);
  int64_t hours = (s.count() % 86400) / 3600;
  return hours == 0 ? whole + " days" : whole + " days " + std::to_string(hours) + " hours";
}

// "revocation": {"ocsp": bool, "crl": bool}, both required. Without a CRL pointer only a
// short-lived profile (SC-063).
Result<RevocationInfo> Revocation(JsonFields& f, const Profile& p) {
  const auto* object = CA_TRY(f.Object("revocation"));
  auto r = CA_TRY(JsonFields::Of(*object, f.PathOf("revocation")));
  RevocationInfo out;
  out.ocsp = CA_TRY(r.Bool("ocsp"));
  out.crl = CA_TRY(r.Bool("crl"));
  CA_TRY_STATUS(r.RefuseUnknown());
  if (!out.crl && !p.IsShortLived()) {
    std::string what = out.ocsp ? "crl false" : "ocsp and crl both false (no revocation pointer)";
    return r.Bad("crl", what + " is allowed only for a short-lived profile (max validity at most " +
                            DaysText(kShortLivedMaxValidity) + "; this one is " +
                            DaysText(p.max_validity) + "): every other certificate needs a CRL "
                            "distribution point (SC-063)");
  }
  return out;
}

bool SameSet(std::vector<std::string> a, std::vector<std::string> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

}  // namespace

std::string_view EnvironmentName(Environment env) {
  return env == Environment::kStaging ? "staging" : "production";
}

std::string_view Profile::SubjectCnPrefix() const {
  return environment == Environment::kStaging ? kStagingCnPrefix : std::string_view();
}

bool Profile::AllowsRsaBits(int bits) const {
  return std::find(rsa_key_bits.begin(), rsa_key_bits.end(), bits) != rsa_key_bits.end();
}

bool Profile::AllowsEcCurve(std::string_view curve) const {
  return std::find(ec_curves.begin(), ec_curves.end(), curve) != ec_curves.end();
}

std::string Profile::AcceptedKeysText() const {
  std::string out;
  if (!rsa_key_bits.empty()) out = "RSA";
  for (size_t i = 0; i < rsa_key_bits.size(); ++i)
    out += (i == 0 ? " " : " or ") + std::to_string(rsa_key_bits[i]);
  if (!ec_curves.empty()) out += out.empty() ? "ECDSA" : " or ECDSA";
  for (size_t i = 0; i < ec_curves.size(); ++i) out += (i == 0 ? " " : " or ") + ec_curves[i];
  return out;
}

bool Profile::IsShortLived() const { return max_validity <= kShortLivedMaxValidity; }

Result<Profile> ParseProfileJson(std::string_view json_text) {
  json doc = CA_TRY(ParseStrict(json_text));
  auto f = CA_TRY(JsonFields::Of(doc, "profile"));

  Profile p;
  auto id = profiles::policy::ParseProfile(CA_TRY(f.String("profile")));
  if (!id) {
    return f.Bad("profile",
                 "must be " + profiles::policy::ProfileNameList() +
                     " or an operator's name (A-Z first, then A-Z, 0-9, '_'; at most 32)");
  }
  p.id = *id;

  std::string env = CA_TRY(f.String("environment"));
  if (env == "production") {
    p.environment = Environment::kProduction;
  } else if (env == "staging") {
    p.environment = Environment::kStaging;
  } else {
    return f.Bad("environment", "must be \"production\" or \"staging\"");
  }

  p.enabled = CA_TRY(f.Bool("enabled"));
  p.description = CA_TRY(f.String("description"));
  p.rsa_key_bits = CA_TRY(RsaKeyBits(f));
  p.ec_curves = CA_TRY(EcCurves(f));
  CA_TRY_STATUS(CheckKeyRule(f, p));
  p.max_validity = CA_TRY(MaxValidity(f));
  if (p.id == ProfileId::kSslShort && !p.IsShortLived()) {
    return f.Bad(doc.contains("max_validity_hours") ? "max_validity_hours" : "max_validity_days",
                 "SSL_SHORT is short-lived: at most " + DaysText(kShortLivedMaxValidity) +
                     ", this is " + DaysText(p.max_validity));
  }
  p.backdate = std::chrono::seconds(CA_TRY(f.IntIn("backdate_seconds", 0, 3600)));
  p.max_names = static_cast<int>(CA_TRY(f.IntIn("max_names", 1, kMaxNamesCap)));

  p.policy_oids = CA_TRY(UniqueList(f, "certificate_policies"));
  for (const std::string& oid : p.policy_oids) {
    if (!IsDottedOid(oid))
      return f.Bad("certificate_policies", "'" + oid + "' is not a dotted OID");
  }
  if (p.policy_oids.front() != kCabfOvPolicyOid) {
    return f.Bad("certificate_policies", "must start with the CA/B Forum OV policy 2.23.140.1.2.2");
  }
  if (p.policy_oids.size() < 2) {
    return f.Bad("certificate_policies", "needs the profile's own policy OID after 2.23.140.1.2.2");
  }

  std::string wild = CA_TRY(f.String("wildcards"));
  if (wild == "forbidden") {
    p.wildcards = WildcardRule::kForbidden;
  } else if (wild == "required") {
    p.wildcards = WildcardRule::kRequired;
  } else {
    return f.Bad("wildcards", "must be \"forbidden\" or \"required\"");
  }
  bool wild_profile = p.id == ProfileId::kWild;
  if (wild_profile != (p.wildcards == WildcardRule::kRequired)) {
    return f.Bad("wildcards", "WILD requires wildcard names; the other profiles forbid them");
  }

  // keyEncipherment belongs to RSA keys (tbs.cpp sets it for an RSA key only): a profile that
  // takes ECDSA keys only says so.
  p.key_usage = CA_TRY(UniqueList(f, "key_usage"));
  if (p.rsa_key_bits.empty()) {
    if (p.key_usage != std::vector<std::string>{std::string(kKeyUsageDigitalSignature)})
      return f.Bad("key_usage",
                   "must be [\"digitalSignature\"] for a profile without RSA keys (CA-4)");
  } else if (!SameSet(p.key_usage, {std::string(kKeyUsageDigitalSignature),
                                    std::string(kKeyUsageKeyEncipherment)})) {
    return f.Bad("key_usage", "must be [\"digitalSignature\", \"keyEncipherment\"] (CA-4)");
  }
  p.extended_key_usage = CA_TRY(UniqueList(f, "extended_key_usage"));
  if (p.extended_key_usage != std::vector<std::string>{std::string(kEkuServerAuth)}) {
    return f.Bad("extended_key_usage", "must be [\"serverAuth\"] (CA-4)");
  }
  p.revocation = CA_TRY(Revocation(f, p));
  CA_TRY_STATUS(f.RefuseUnknown());
  return p;
}

Result<Profile> LoadProfile(ProfileId id, const std::string& dir) {
  std::string path = dir + "/" + std::string(profiles::policy::ProfileName(id)) + ".json";
  std::string text = CA_TRY(ossl::ReadFile(path));
  auto profile = ParseProfileJson(text);
  if (!profile)
    return std::unexpected(Error{profile.error().code, path + ": " + profile.error().message});
  if (profile->id != id) {
    return Fail(ErrorCode::kInvalidArgument, path + ": profile field '" +
                                                 std::string(profiles::policy::ProfileName(profile->id)) +
                                                 "' does not match the file name");
  }
  return profile;
}

Result<std::map<ProfileId, Profile>> LoadProfiles(const std::string& dir, Environment environment) {
  std::set<ProfileId> ids(profiles::policy::kAllProfiles.begin(),
                          profiles::policy::kAllProfiles.end());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".json") continue;
    std::string stem = entry.path().stem().string();
    auto id = profiles::policy::ParseProfile(stem);
    if (!id) {
      return Fail(ErrorCode::kInvalidArgument,
                  entry.path().string() + ": '" + stem +
                      "' is not a profile name (A-Z first, then A-Z, 0-9, '_'; at most 32)");
    }
    ids.insert(*id);
  }
  if (ec) return Fail(ErrorCode::kNotFound, dir + ": " + ec.message());
  std::map<ProfileId, Profile> out;
  for (const ProfileId& id : ids) {
    Profile p = CA_TRY(LoadProfile(id, dir));
    if (p.environment != environment) {
      return Fail(ErrorCode::kInvalidArgument,
                  dir + "/" + std::string(profiles::policy::ProfileName(id)) + ".json: environment is " +
                      std::string(EnvironmentName(p.environment)) + ", expected " +
                      std::string(EnvironmentName(environment)));
    }
    out.emplace(id, std::move(p));
  }
  return out;
}

}  // namespace ca::profiles::issuance
