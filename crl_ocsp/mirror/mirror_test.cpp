#include "crl_ocsp/mirror/mirror.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "common/encoding.h"
#include "crl_ocsp/testing/temp_dir.h"

namespace ca::crl_ocsp::mirror {
namespace {

namespace fs = std::filesystem;
using crl_ocsp::testing::TempDir;

constexpr int64_t kNow = 1'800'000'000;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// An export directory as the engine's exporter writes it: files, then manifest.json.
class Origin {
 public:
  void Put(const std::string& path, const std::string& bytes, int64_t next_update) {
    fs::path p = fs::path(dir_.path()) / path;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
    files_[path] = {path, HexEncode(Sha256(bytes)), bytes.size(), next_update};
  }
  void Drop(const std::string& path) { files_.erase(path); }
  void Overwrite(const std::string& path, const std::string& bytes) {  // the manifest unchanged
    std::ofstream(fs::path(dir_.path()) / path, std::ios::binary) << bytes;
  }
  void Publish(int64_t generated_at) {
    Manifest m{generated_at, {}};
    for (const auto& [p, e] : files_) m.files.push_back(e);
    WriteManifest(ManifestToJson(m));
  }
  void WriteManifest(const std::string& text) {
    std::ofstream(fs::path(dir_.path()) / "manifest.json", std::ios::binary) << text;
  }
  std::string url() const { return "file://" + dir_.path(); }

 private:
  TempDir dir_;
  std::map<std::string, ManifestEntry> files_;
};

class MirrorTest : public ::testing::Test {
 protected:
  Mirror Open(const std::string& origin) {
    MirrorConfig c;
    c.origin = origin;
    c.dir = served_.path();
    c.interval_seconds = 5;
    auto m = Mirror::Open(c);
    EXPECT_TRUE(m) << m.error().message;
    return std::move(*m);
  }
  std::string Served(const std::string& path) { return Slurp(fs::path(served_.path()) / path); }
  bool IsServed(const std::string& path) { return fs::exists(fs::path(served_.path()) / path); }
  nlohmann::json HealthFile() { return nlohmann::json::parse(Served("health.json")); }

  Origin origin_;
  TempDir served_;
};

TEST_F(MirrorTest, FollowsTheOriginAndReportsHealth) {
  origin_.Put("crl/ca/3.crl", "shard-v1", kNow + 600);
  origin_.Put("ocsp/MFQw//Ug+a==", "good", kNow + 300);
  origin_.Put("ca/ca.der", "cert", kNow + 86400);
  origin_.Publish(kNow);
  Mirror mirror = Open(origin_.url());
  Health h = mirror.RunPass(kNow);
  EXPECT_EQ(h.status, HealthStatus::kOk) << h.last_error;
  EXPECT_EQ(Served("crl/ca/3.crl"), "shard-v1");
  EXPECT_EQ(Served("ocsp/MFQw/Ug+a=="), "good");
  nlohmann::json health = HealthFile();
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["origin_reachable"], true);
  EXPECT_EQ(health["serving_until"], kNow + 300);
  EXPECT_EQ(health["last_success"], kNow);
  EXPECT_EQ(health["files"], 3);
  auto own = ParseManifest(Served("manifest.json"));
  ASSERT_TRUE(own);
  EXPECT_EQ(own->files.size(), 3u);
  EXPECT_EQ(mirror.NextPassAt(kNow), kNow + 5);

  // A revocation: a new response and a new shard; the CA certificate leaves the export.
  origin_.Put("ocsp/MFQw//Ug+a==", "revoked", kNow + 400);
  origin_.Put("crl/ca/3.crl", "shard-v2", kNow + 700);
  origin_.Drop("ca/ca.der");
  origin_.Publish(kNow + 10);
  h = mirror.RunPass(kNow + 10);
  EXPECT_EQ(h.status, HealthStatus::kOk) << h.last_error;
  EXPECT_EQ(Served("ocsp/MFQw/Ug+a=="), "revoked");
  EXPECT_EQ(Served("crl/ca/3.crl"), "shard-v2");
  EXPECT_FALSE(IsServed("ca/ca.der"));
  EXPECT_FALSE(IsServed("ca"));
}

TEST_F(MirrorTest, VerifiesEveryFileBeforeInstallingIt) {
  origin_.Put("crl/ca.crl", "v1", kNow + 600);
  origin_.Publish(kNow);
  Mirror mirror = Open(origin_.url());
  ASSERT_EQ(mirror.RunPass(kNow).status, HealthStatus::kOk);
  origin_.Put("crl/ca.crl", "v2", kNow + 700);
  origin_.Publish(kNow + 1);
  origin_.Overwrite("crl/ca.crl", "xx");  // same size, other bytes
  Health h = mirror.RunPass(kNow + 1);
  EXPECT_EQ(h.status, HealthStatus::kOriginUnreachable);
  EXPECT_NE(h.last_error.find("crl/ca.crl: SHA-256 differs"), std::string::npos) << h.last_error;
  EXPECT_EQ(Served("crl/ca.crl"), "v1");
  origin_.Overwrite("crl/ca.crl", "longer");  // more bytes than the manifest says: not read past
  h = mirror.RunPass(kNow + 1);
  EXPECT_NE(h.last_error.find("larger than the limit of 2 bytes"), std::string::npos)
      << h.last_error;
  EXPECT_EQ(Served("crl/ca.crl"), "v1");  // the old bytes stay until their next_update
  EXPECT_EQ(h.last_success, kNow);
}

TEST_F(MirrorTest, CutOffKeepsServingUntilNextUpdateThenSaysStale) {
  origin_.Put("crl/ca.crl", "crl", kNow + 100);
  origin_.Put("ocsp/AAAA", "resp", kNow + 1000);
  origin_.Publish(kNow);
  Mirror mirror = Open(origin_.url());
  ASSERT_EQ(mirror.RunPass(kNow).status, HealthStatus::kOk);

  Mirror cut = Open(origin_.url() + "/gone");  // the same served directory, an origin that fails
  Health h = cut.RunPass(kNow + 50);
  EXPECT_EQ(h.status, HealthStatus::kOriginUnreachable);
  EXPECT_FALSE(h.origin_reachable);
  EXPECT_EQ(h.serving_until, kNow + 100);
  EXPECT_EQ(Served("crl/ca.crl"), "crl");
  EXPECT_EQ(HealthFile()["status"], "origin_unreachable");
  EXPECT_EQ(cut.NextPassAt(kNow + 97), kNow + 100);  // wakes at the second the CRL expires

  h = cut.RunPass(kNow + 100);
  EXPECT_EQ(h.status, HealthStatus::kStale);
  EXPECT_FALSE(IsServed("crl/ca.crl"));
  EXPECT_EQ(Served("ocsp/AAAA"), "resp");
  nlohmann::json health = HealthFile();
  EXPECT_EQ(health["status"], "stale");
  EXPECT_EQ(health["expired"], nlohmann::json::array({"crl/ca.crl"}));
  EXPECT_EQ(health["serving_until"], kNow + 1000);
}

TEST_F(MirrorTest, RefusesAnEscapingManifestAndChangesNothing) {
  origin_.Put("crl/ca.crl", "crl", kNow + 600);
  origin_.Publish(kNow);
  Mirror mirror = Open(origin_.url());
  ASSERT_EQ(mirror.RunPass(kNow).status, HealthStatus::kOk);
  std::string sha = HexEncode(Sha256(std::string("x")));
  origin_.WriteManifest(R"({"generated_at": )" + std::to_string(kNow + 5) +
                        R"(, "files": [{"path": "../escaped", "sha256": ")" + sha +
                        R"(", "size": 1, "next_update": )" + std::to_string(kNow + 600) + "}]}");
  Health h = mirror.RunPass(kNow + 5);
  EXPECT_EQ(h.status, HealthStatus::kOriginUnreachable);
  EXPECT_NE(h.last_error.find("manifest refused"), std::string::npos) << h.last_error;
  EXPECT_NE(h.last_error.find("escapes"), std::string::npos) << h.last_error;
  EXPECT_EQ(Served("crl/ca.crl"), "crl");
  EXPECT_FALSE(fs::exists(fs::path(served_.path()).parent_path() / "escaped"));

  // An older manifest (an origin restored from a backup) would roll revocations back.
  origin_.Put("crl/ca.crl", "old", kNow + 600);
  origin_.Publish(kNow - 100);
  h = mirror.RunPass(kNow + 6);
  EXPECT_NE(h.last_error.find("rollback"), std::string::npos) << h.last_error;
  EXPECT_EQ(Served("crl/ca.crl"), "crl");
}

TEST_F(MirrorTest, ManifestLargerThanTheLimitIsNotRead) {
  origin_.Put("crl/ca.crl", "crl", kNow + 600);
  origin_.Publish(kNow);
  MirrorConfig c;
  c.origin = origin_.url();
  c.dir = served_.path();
  c.max_manifest_bytes = 16;
  auto mirror = Mirror::Open(c);
  ASSERT_TRUE(mirror);
  Health h = mirror->RunPass(kNow);
  EXPECT_EQ(h.status, HealthStatus::kOriginUnreachable);
  EXPECT_NE(h.last_error.find("larger than the limit of 16 bytes"), std::string::npos)
      << h.last_error;
  EXPECT_FALSE(IsServed("crl/ca.crl"));
}

TEST_F(MirrorTest, AFileListedPastItsNextUpdateIsNeverServed) {
  origin_.Put("crl/ca.crl", "expired", kNow - 1);
  origin_.Put("ca/ca.der", "cert", kNow + 600);
  origin_.Publish(kNow);
  Mirror mirror = Open(origin_.url());
  Health h = mirror.RunPass(kNow);
  EXPECT_EQ(h.status, HealthStatus::kStale);
  EXPECT_FALSE(IsServed("crl/ca.crl"));
  EXPECT_EQ(Served("ca/ca.der"), "cert");
}

TEST_F(MirrorTest, AReplicaCanBeAnotherReplicasOrigin) {
  origin_.Put("crl/ca/1.crl", "shard", kNow + 600);
  origin_.Put("ocsp/AB//cd==", "resp", kNow + 300);
  origin_.Publish(kNow);
  Mirror first = Open(origin_.url());
  ASSERT_EQ(first.RunPass(kNow).status, HealthStatus::kOk);
  TempDir branch;
  MirrorConfig c;
  c.origin = "file://" + served_.path();
  c.dir = branch.path();
  auto second = Mirror::Open(c);
  ASSERT_TRUE(second);
  Health h = second->RunPass(kNow + 1);
  EXPECT_EQ(h.status, HealthStatus::kOk) << h.last_error;
  EXPECT_EQ(h.files, 2u);
  EXPECT_EQ(h.serving_until, kNow + 300);
  EXPECT_EQ(Slurp(fs::path(branch.path()) / "ocsp/AB/cd=="), "resp");
}

TEST_F(MirrorTest, ARestartKeepsVerifiedFilesOnly) {
  origin_.Put("crl/a.crl", "a", kNow + 600);
  origin_.Put("crl/b.crl", "b", kNow + 600);
  origin_.Publish(kNow);
  {
    Mirror mirror = Open(origin_.url());
    ASSERT_EQ(mirror.RunPass(kNow).status, HealthStatus::kOk);
  }
  std::ofstream(fs::path(served_.path()) / "crl/b.crl") << "tampered";
  std::ofstream(fs::path(served_.path()) / "crl/stray.crl") << "stray";
  Mirror restarted = Open(origin_.url() + "/gone");
  EXPECT_EQ(Served("crl/a.crl"), "a");
  EXPECT_FALSE(IsServed("crl/b.crl"));
  EXPECT_FALSE(IsServed("crl/stray.crl"));
  Health h = restarted.RunPass(kNow + 1);
  EXPECT_EQ(h.files, 1u);
  EXPECT_EQ(h.status, HealthStatus::kOriginUnreachable);
}

}  // namespace
}  // namespace ca::crl_ocsp::mirror
