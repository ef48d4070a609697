#include "profiles/issuance/profile.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/encoding.h"

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
          {"extended_key_usage", {"serverAuth"}}};
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
    ASSERT_EQ(profiles->size(), 3u);
    for (const auto& [id, p] : *profiles) {
      EXPECT_EQ(p.id, id);
      EXPECT_EQ(p.max_validity, std::chrono::days(90));
      EXPECT_TRUE(p.AllowsRsaBits(3072));
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
  ExpectRefused(with("profile", "EV"), "profile.profile: must be one of SSL, SSL_RGS, WILD");
  ExpectRefused(with("environment", "prod"),
                "profile.environment: must be \"production\" or \"staging\"");
  ExpectRefused(with("enabled", "yes"), "profile.enabled: expected a boolean");
  ExpectRefused(with("rsa_key_bits", {2048, 3072}),
                "profile.rsa_key_bits: allowed sizes are 3072 and 4096");
  ExpectRefused(with("rsa_key_bits", {4096}), "profile.rsa_key_bits: must include 3072");
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
                "profile.wildcards: WILD requires wildcard names; SSL and SSL_RGS forbid them");
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
