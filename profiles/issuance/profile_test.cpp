#include "profiles/issuance/profile.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "common/openssl.h"

namespace ca::profiles::issuance {
namespace {

const std::string kDataDir = CA_PROFILES_DATA_DIR;

nlohmann::json GoodDoc() {
  return {{"profile", "SSL"},
          {"environment", "production"},
          {"enabled", true},
          {"description", "test"},
          {"rsa_key_bits", {3072}},
          {"max_validity_days", 90},
          {"backdate_seconds", 0},
          {"certificate_policies", {"2.23.140.1.2.2", "1.3.6.1.4.1.32473.1.1.1"}},
          {"wildcards", "forbidden"},
          {"max_names", 100},
          {"key_usage", {"digitalSignature", "keyEncipherment"}},
          {"extended_key_usage", {"serverAuth"}},
          {"revocation", {{"ocsp", true}, {"crl", true}}}};
}

// GoodDoc as a short-lived profile (`profile`, `days` of validity, no OCSP, no CRL).
nlohmann::json ShortDoc(const char* profile = "SSL_SHORT", int days = 6) {
  auto d = GoodDoc();
  d["profile"] = profile;
  d["max_validity_days"] = days;
  d["revocation"] = {{"ocsp", false}, {"crl", false}};
  return d;
}

void ExpectRefused(const nlohmann::json& doc, const std::string& message) {
  auto p = ParseProfileJson(doc.dump());
  ASSERT_FALSE(p) << message;
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(p.error().message, message);
}

TEST(ProfileTest, RepositoryProfilesLoad) {
  for (Environment env : {Environment::kProduction, Environment::kStaging}) {
    auto profiles = LoadProfiles(kDataDir + "/" + std::string(EnvironmentName(env)), env);
    ASSERT_TRUE(profiles) << profiles.error().message;
    ASSERT_EQ(profiles->size(), profiles::policy::kAllProfiles.size());
    for (const auto& [id, p] : *profiles) {
      EXPECT_EQ(p.id, id);
      bool short_lived = id == ProfileId::kSslShort;
      EXPECT_EQ(p.max_validity, short_lived ? std::chrono::days(6) : std::chrono::days(90));
      EXPECT_EQ(p.IsShortLived(), short_lived);
      EXPECT_EQ(p.revocation.ocsp, !short_lived);
      EXPECT_EQ(p.revocation.crl, !short_lived);
      EXPECT_EQ(p.rsa_key_bits, std::vector<int>{3072});  // the technical document: 3072 only
      EXPECT_TRUE(p.ec_curves.empty());
      EXPECT_EQ(p.policy_oids.front(), "2.23.140.1.2.2");
      EXPECT_EQ(p.wildcards,
                id == ProfileId::kWild ? WildcardRule::kRequired : WildcardRule::kForbidden);
      EXPECT_EQ(p.SubjectCnPrefix(), env == Environment::kStaging ? "TEST " : "");
    }
    EXPECT_EQ(profiles->at(ProfileId::kSslRgs).policy_oids.size(), 3u);
  }
  auto wrong_env = LoadProfiles(kDataDir + "/staging", Environment::kProduction);
  ASSERT_FALSE(wrong_env);
  EXPECT_NE(wrong_env.error().message.find("environment is staging, expected production"),
            std::string::npos);
}

TEST(ProfileTest, GoodDocumentParses) {
  auto p = ParseProfileJson(GoodDoc().dump());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->id, ProfileId::kSsl);
  EXPECT_EQ(p->rsa_key_bits, std::vector<int>{3072});
  EXPECT_EQ(p->backdate, std::chrono::seconds(0));
  EXPECT_EQ(p->max_names, 100);
}

TEST(ProfileTest, EveryFieldIsValidated) {
  auto with = [](const char* key, nlohmann::json value) {
    auto d = GoodDoc();
    d[key] = std::move(value);
    return d;
  };
  ExpectRefused(with("colour", "red"), "profile: unknown field 'colour'");
  auto missing = GoodDoc();
  missing.erase("backdate_seconds");
  ExpectRefused(missing, "profile.backdate_seconds: missing");
  ExpectRefused(with("profile", "ev"),
                "profile.profile: must be SSL, SSL_RGS, WILD, SSL_SHORT or an operator's name (A-Z "
                "first, then A-Z, 0-9, '_'; at most 32)");
  ExpectRefused(with("environment", "prod"),
                "profile.environment: must be \"production\" or \"staging\"");
  ExpectRefused(with("enabled", "yes"), "profile.enabled: expected a boolean");
  ExpectRefused(with("rsa_key_bits", {2048, 3072}),
                "profile.rsa_key_bits: allowed sizes are 3072 and 4096");
  // The shipped profiles take RSA 3072 only; no data file can loosen them.
  const std::string only3072 =
      " takes RSA 3072 keys only (the operator's technical document); define a profile of your own "
      "for other keys";
  ExpectRefused(with("rsa_key_bits", {4096}), "profile.rsa_key_bits: SSL" + only3072);
  ExpectRefused(with("rsa_key_bits", {3072, 4096}), "profile.rsa_key_bits: SSL" + only3072);
  ExpectRefused(with("ec_curves", {"P-256"}), "profile.ec_curves: SSL" + only3072);
  ExpectRefused(with("max_validity_days", 91),
                "profile.max_validity_days: expected an integer in [1, 90]");
  ExpectRefused(with("max_validity_days", 30.5),
                "profile.max_validity_days: expected an integer in [1, 90]");
  ExpectRefused(with("backdate_seconds", 3601),
                "profile.backdate_seconds: expected an integer in [0, 3600]");
  ExpectRefused(with("certificate_policies", {"1.3.6.1.4.1.32473.1"}),
                "profile.certificate_policies: must start with the CA/B Forum OV policy "
                "2.23.140.1.2.2");
  ExpectRefused(with("certificate_policies", {"2.23.140.1.2.2"}),
                "profile.certificate_policies: needs the profile's own policy OID after "
                "2.23.140.1.2.2");
  ExpectRefused(with("certificate_policies", {"2.23.140.1.2.2", "1.3.06.1"}),
                "profile.certificate_policies: '1.3.06.1' is not a dotted OID");
  ExpectRefused(with("wildcards", "required"),
                "profile.wildcards: WILD requires wildcard names; the other profiles forbid them");
  ExpectRefused(with("max_names", 0), "profile.max_names: expected an integer in [1, 100]");
  ExpectRefused(with("key_usage", {"digitalSignature"}),
                "profile.key_usage: must be [\"digitalSignature\", \"keyEncipherment\"] (CA-4)");
  ExpectRefused(with("extended_key_usage", {"serverAuth", "clientAuth"}),
                "profile.extended_key_usage: must be [\"serverAuth\"] (CA-4)");
  auto dup = ParseProfileJson(R"({"profile":"SSL","profile":"WILD"})");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message, "profile: duplicate key 'profile'");
  auto bad = ParseProfileJson("{not json");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("profile: not valid JSON"), std::string::npos);
}

TEST(ProfileTest, ValidityInDaysOrHours) {
  auto hours = GoodDoc();
  hours.erase("max_validity_days");
  hours["max_validity_hours"] = 160;
  auto p = ParseProfileJson(hours.dump());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->max_validity, std::chrono::hours(160));
  EXPECT_TRUE(p->IsShortLived());
  auto both = GoodDoc();
  both["max_validity_hours"] = 160;
  ExpectRefused(both, "profile.max_validity_hours: give max_validity_days or max_validity_hours, "
                      "not both");
  hours["max_validity_hours"] = 2161;
  ExpectRefused(hours, "profile.max_validity_hours: expected an integer in [1, 2160]");
  hours.erase("max_validity_hours");
  ExpectRefused(hours, "profile.max_validity_days: missing (or give max_validity_hours)");
}

TEST(ProfileTest, RevocationChoices) {
  auto revocation = [](nlohmann::json doc, bool ocsp, bool crl) {
    doc["revocation"] = {{"ocsp", ocsp}, {"crl", crl}};
    return doc;
  };
  // OCSP off is allowed for any profile; the CRL stays.
  auto no_ocsp = ParseProfileJson(revocation(GoodDoc(), false, true).dump());
  ASSERT_TRUE(no_ocsp) << no_ocsp.error().message;
  EXPECT_FALSE(no_ocsp->revocation.ocsp);
  EXPECT_TRUE(no_ocsp->revocation.crl);
  // Both off: a short-lived profile only (≤ 7 days), whichever its name.
  auto short_lived = ParseProfileJson(ShortDoc().dump());
  ASSERT_TRUE(short_lived) << short_lived.error().message;
  EXPECT_EQ(short_lived->id, ProfileId::kSslShort);
  EXPECT_EQ(short_lived->max_validity, std::chrono::days(6));
  EXPECT_FALSE(short_lived->revocation.ocsp);
  EXPECT_FALSE(short_lived->revocation.crl);
  EXPECT_TRUE(ParseProfileJson(ShortDoc("SSL", 7).dump()));
  ExpectRefused(revocation(GoodDoc(), false, false),
                "profile.revocation.crl: ocsp and crl both false (no revocation pointer) is "
                "allowed only for a short-lived profile (max validity at most 7 days; this one is "
                "90 days): every other certificate needs a CRL distribution point (SC-063)");
  ExpectRefused(revocation(GoodDoc(), true, false),
                "profile.revocation.crl: crl false is allowed only for a short-lived profile (max "
                "validity at most 7 days; this one is 90 days): every other certificate needs a "
                "CRL distribution point (SC-063)");
  auto eight_days = ShortDoc("SSL", 7);
  eight_days.erase("max_validity_days");
  eight_days["max_validity_hours"] = 7 * 24 + 1;
  ExpectRefused(eight_days,
                "profile.revocation.crl: ocsp and crl both false (no revocation pointer) is "
                "allowed only for a short-lived profile (max validity at most 7 days; this one is "
                "7 days 1 hours): every other certificate needs a CRL distribution point (SC-063)");
  // SSL_SHORT itself must be short-lived, whatever its revocation choice.
  ExpectRefused(ShortDoc("SSL_SHORT", 8),
                "profile.max_validity_days: SSL_SHORT is short-lived: at most 7 days, this is 8 days");
  auto missing = GoodDoc();
  missing.erase("revocation");
  ExpectRefused(missing, "profile.revocation: missing");
  auto no_crl = GoodDoc();
  no_crl["revocation"].erase("crl");
  ExpectRefused(no_crl, "profile.revocation.crl: missing");
  auto extra = GoodDoc();
  extra["revocation"]["delta"] = true;
  ExpectRefused(extra, "profile.revocation: unknown field 'delta'");
  auto not_bool = GoodDoc();
  not_bool["revocation"]["ocsp"] = "yes";
  ExpectRefused(not_bool, "profile.revocation.ocsp: expected a boolean");
}

// An operator's profile (profiles/README.md): its own name, keys, validity and policy OID, through
// the same parser and rules as the shipped ones.
nlohmann::json OperatorDoc() {
  auto d = GoodDoc();
  d["profile"] = "SSL_EC";
  d["rsa_key_bits"] = nlohmann::json::array();
  d["ec_curves"] = {"P-256", "P-384"};
  d["key_usage"] = {"digitalSignature"};
  d["max_validity_hours"] = 2;
  d.erase("max_validity_days");
  d["certificate_policies"] = {"2.23.140.1.2.2", "1.3.6.1.4.1.32473.1.1.5"};
  return d;
}

TEST(ProfileTest, OperatorProfileParsesUnderTheSameRules) {
  auto p = ParseProfileJson(OperatorDoc().dump());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(profiles::policy::ProfileName(p->id), "SSL_EC");
  EXPECT_FALSE(profiles::policy::IsShippedProfile(p->id));
  EXPECT_TRUE(p->rsa_key_bits.empty());
  EXPECT_EQ(p->ec_curves, (std::vector<std::string>{"P-256", "P-384"}));
  EXPECT_TRUE(p->AllowsEcCurve("P-256"));
  EXPECT_EQ(p->max_validity, std::chrono::hours(2));
  EXPECT_EQ(p->AcceptedKeysText(), "ECDSA P-256 or P-384");
  auto with = [](const char* key, nlohmann::json value) {
    auto d = OperatorDoc();
    d[key] = std::move(value);
    return d;
  };
  ExpectRefused(with("ec_curves", {"P-521"}),
                "profile.ec_curves: allowed curves are P-256 and P-384");
  ExpectRefused(with("ec_curves", {"P-256", "P-256"}), "profile.ec_curves: duplicate 'P-256'");
  ExpectRefused(with("ec_curves", nlohmann::json::array()),
                "profile.rsa_key_bits: the profile accepts no key: give rsa_key_bits or ec_curves");
  ExpectRefused(
      with("key_usage", {"digitalSignature", "keyEncipherment"}),
      "profile.key_usage: must be [\"digitalSignature\"] for a profile without RSA keys (CA-4)");
  ExpectRefused(with("wildcards", "required"),
                "profile.wildcards: WILD requires wildcard names; the other profiles forbid them");
  ExpectRefused(
      with("certificate_policies", {"2.23.140.1.2.2"}),
      "profile.certificate_policies: needs the profile's own policy OID after 2.23.140.1.2.2");
  auto rsa = with("rsa_key_bits", {3072, 4096});
  rsa.erase("ec_curves");
  rsa["key_usage"] = {"digitalSignature", "keyEncipherment"};
  auto both = ParseProfileJson(rsa.dump());
  ASSERT_TRUE(both) << both.error().message;
  EXPECT_EQ(both->AcceptedKeysText(), "RSA 3072 or 4096");
}

TEST(ProfileTest, TheDocumentedExampleParses) {
  auto text = ossl::ReadFile(kDataDir + "/../examples/SSL_EC.json");
  ASSERT_TRUE(text) << text.error().message;
  auto p = ParseProfileJson(*text);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->AcceptedKeysText(), "ECDSA P-256 or P-384");
}

TEST(ProfileTest, LoadProfilesAddsTheOperatorsFiles) {
  std::string dir = std::filesystem::temp_directory_path() / ("profiles-" + RandomUuidV4());
  std::filesystem::copy(kDataDir + "/production", dir);
  std::ofstream(dir + "/SSL_EC.json") << OperatorDoc().dump();
  auto all = LoadProfiles(dir, Environment::kProduction);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->size(), profiles::policy::kAllProfiles.size() + 1);
  auto id = profiles::policy::ParseProfile("SSL_EC");
  ASSERT_TRUE(id);
  EXPECT_EQ(all->at(*id).ec_curves.size(), 2u);
  EXPECT_EQ(all->at(ProfileId::kSsl).rsa_key_bits,
            std::vector<int>{3072});  // the defaults as shipped
  std::ofstream(dir + "/ssl-ec.json") << OperatorDoc().dump();
  auto bad_name = LoadProfiles(dir, Environment::kProduction);
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().message, dir +
                                          "/ssl-ec.json: 'ssl-ec' is not a profile name (A-Z "
                                          "first, then A-Z, 0-9, '_'; at most 32)");
  std::filesystem::remove(dir + "/ssl-ec.json");
  std::filesystem::remove(dir + "/WILD.json");
  auto missing = LoadProfiles(dir, Environment::kProduction);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST(ProfileTest, LoadChecksFileNameAndExistence) {
  std::string dir = std::filesystem::temp_directory_path() / ("profiles-" + RandomUuidV4());
  std::filesystem::create_directory(dir);
  std::ofstream(dir + "/WILD.json") << GoodDoc().dump();  // says SSL
  auto p = LoadProfile(ProfileId::kWild, dir);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message,
            dir + "/WILD.json: profile field 'SSL' does not match the file name");
  auto missing = LoadProfile(ProfileId::kSsl, dir);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ca::profiles::issuance
