#include "crl_ocsp/mirror/manifest.h"

#include <gtest/gtest.h>

namespace ca::crl_ocsp::mirror {
namespace {

const std::string kSha(64, 'a');

std::string OneFile(const std::string& path) {
  return R"({"generated_at": 10, "files": [{"path": ")" + path + R"(", "sha256": ")" + kSha +
         R"(", "size": 3, "next_update": 99}]})";
}

TEST(NormalizeExportPath, KeepsExportPathsAndCollapsesEmptyComponents) {
  EXPECT_EQ(*NormalizeExportPath("crl/ca/3.crl"), "crl/ca/3.crl");
  EXPECT_EQ(*NormalizeExportPath("ocsp/MFQw//Ug+a=="), "ocsp/MFQw/Ug+a==");
  EXPECT_EQ(*NormalizeExportPath("ca/issuer-1.der"), "ca/issuer-1.der");
}

TEST(NormalizeExportPath, RefusesEscapesAndOwnFiles) {
  for (const char* bad :
       {"", "/etc/passwd", "../x", "crl/../../x", "crl/./x", "crl/", ".hidden", "crl/.mirror-tmp-1",
        "a b", "crl/x%2e", "manifest.json", "health.json", "crl\\x"}) {
    auto r = NormalizeExportPath(bad);
    EXPECT_FALSE(r) << bad;
  }
  EXPECT_NE(NormalizeExportPath("../x").error().message.find("escapes"), std::string::npos);
  EXPECT_NE(NormalizeExportPath("/x").error().message.find("absolute"), std::string::npos);
}

TEST(ParseManifest, ReadsEntriesSortedByPath) {
  std::string text = R"({"generated_at": 1700000000, "files": [
    {"path": "ocsp/AB/cd==", "sha256": ")" +
                     kSha + R"(", "size": 5, "next_update": 1700000600},
    {"path": "crl/ca.crl", "sha256": ")" +
                     kSha + R"(", "size": 7, "next_update": 1700086400}]})";
  auto m = ParseManifest(text);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->generated_at, 1700000000);
  ASSERT_EQ(m->files.size(), 2u);
  EXPECT_EQ(m->files[0].path, "crl/ca.crl");
  EXPECT_EQ(m->files[0].size, 7u);
  EXPECT_EQ(m->files[1].next_update, 1700000600);
  auto again = ParseManifest(ManifestToJson(*m));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->files[1].path, "ocsp/AB/cd==");
}

TEST(ParseManifest, RefusesTheWholeManifestForOneBadEntry) {
  auto escape = ParseManifest(OneFile("../../etc/cron.d/x"));
  ASSERT_FALSE(escape);
  EXPECT_NE(escape.error().message.find("manifest.files[0].path"), std::string::npos);
  EXPECT_FALSE(ParseManifest(OneFile("/abs")));
  EXPECT_FALSE(ParseManifest("not json"));
  EXPECT_FALSE(ParseManifest(R"({"generated_at": 1})"));
  EXPECT_FALSE(ParseManifest(R"({"generated_at": 1, "files": [], "extra": 1})"));
  std::string bad_sha =
      R"({"generated_at": 1, "files": [{"path": "a", "sha256": "ABC", "size": 1, "next_update": 2}]})";
  EXPECT_FALSE(ParseManifest(bad_sha));
  std::string negative = R"({"generated_at": 1, "files": [{"path": "a", "sha256": ")" + kSha +
                         R"(", "size": -1, "next_update": 2}]})";
  EXPECT_FALSE(ParseManifest(negative));
}

TEST(ParseManifest, RefusesDuplicatesAndFileDirectoryClashes) {
  auto two = [](const std::string& a, const std::string& b) {
    return R"({"generated_at": 1, "files": [{"path": ")" + a + R"(", "sha256": ")" + kSha +
           R"(", "size": 1, "next_update": 2}, {"path": ")" + b + R"(", "sha256": ")" + kSha +
           R"(", "size": 1, "next_update": 2}]})";
  };
  EXPECT_FALSE(ParseManifest(two("crl/a.crl", "crl//a.crl")));
  auto clash = ParseManifest(two("crl/ca", "crl/ca/1.crl"));
  ASSERT_FALSE(clash);
  EXPECT_NE(clash.error().message.find("as a file and as the directory"), std::string::npos);
  EXPECT_FALSE(ParseManifest(two("ocsp/a", "ocsp/a/b/c")));
  EXPECT_TRUE(ParseManifest(two("ocsp/a", "ocsp/a-b/c")));
}

}  // namespace
}  // namespace ca::crl_ocsp::mirror
