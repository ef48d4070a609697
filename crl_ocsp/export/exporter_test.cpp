#include "crl_ocsp/export/exporter.h"

#include <sys/stat.h>

#include <gtest/gtest.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/encoding.h"
#include "crl_ocsp/export/ocsp_get_path.h"
#include "crl_ocsp/testing/temp_dir.h"
#include "crl_ocsp/testing/test_pki.h"
#include "pki/crl_builder.h"

namespace ca::crl_ocsp::exporter {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class ExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = StatusStore::Open({store_dir.path()});
    ASSERT_TRUE(opened) << opened.error().ToString();
    store.emplace(std::move(*opened));
    ASSERT_TRUE(store->RegisterIssuer("ca1", pki.ca.get()));
  }
  Bytes Response(std::string_view serial, CertStatus status, Time this_update,
                 std::chrono::seconds validity = 96h) {
    OcspCertState st{*pki::Serial::FromHex(serial),         status,      this_update,
                     pki::RevocationReason::kKeyCompromise, this_update, this_update + validity};
    return *BuildOcspResponse(pki.ca.get(), {pki.ocsp_key.get(), pki.ocsp.get()}, st);
  }
  void Put(const Bytes& der, Time cert_not_after) {
    ASSERT_TRUE(
        store->PutOcspResponses("ca1", std::vector<OcspPublication>{{der, cert_not_after}}));
  }
  void PublishCrl(CrlScope scope, Time this_update, std::chrono::seconds validity = 168h) {
    uint64_t n = *store->ReserveCrlNumber("ca1");
    pki::CrlRequest request{pki.ca.get(), pki.ca_key.get(), n, this_update, this_update + validity, {}};
    // A shard names itself in its IDP (the publish guard checks it).
    if (scope.shard) request.distribution_point = *CrlScopeUrl("http://crl.test/ca1.crl", scope);
    auto r = store->PublishCrl("ca1", *pki::BuildCrl(request), {}, scope);
    ASSERT_TRUE(r) << r.error().ToString();
  }
  Exporter Open() {
    auto e = Exporter::Open(store->env(), store->dbs(), {out.path(), {}, 900s});
    EXPECT_TRUE(e) << e.error().ToString();
    return std::move(*e);
  }
  std::array<std::string, 2> Paths(std::string_view serial) {
    return *OcspExportPaths(pki.ca.get(), pki::Serial::FromHex(serial)->magnitude);
  }
  fs::path At(const std::string& rel) { return fs::path(out.path()) / rel; }

  testing::TempDir store_dir, out;
  testing::Pki pki = testing::MakePki();
  std::optional<StatusStore> store;
  Time now = pki::Now();
};

TEST_F(ExporterTest, ExportsEveryArtifactAtItsGetPathAndWritesTheManifest) {
  Bytes good = Response("7a01", CertStatus::kGood, now - 1h);
  Put(good, now + 30 * 24h);
  PublishCrl(CrlScope::Full(), now - 2h);
  PublishCrl(CrlScope::Shard(3), now - 2h);
  Exporter e = Open();
  auto pass = e.RunPass(now);
  ASSERT_TRUE(pass) << pass.error().ToString();
  EXPECT_EQ(pass->files, 5u);  // CA certificate, 2 CRLs, 2 OCSP paths
  EXPECT_EQ(pass->written, 5u);
  EXPECT_EQ(pass->withheld, 0u);
  for (const std::string& p : Paths("7a01")) {
    EXPECT_EQ(Read(At(p)), std::string(AsString(good))) << p;
    struct stat st {};
    ASSERT_EQ(::stat(At(p).c_str(), &st), 0);
    EXPECT_EQ(st.st_mtime, pki::ToUnix(now - 1h));  // Last-Modified = thisUpdate
  }
  EXPECT_EQ(Read(At("crl/ca1.crl")), std::string(AsString(**store->CurrentCrl("ca1"))));
  EXPECT_EQ(Read(At("crl/ca1/3.crl")),
            std::string(AsString(**store->CurrentCrl("ca1", CrlScope::Shard(3)))));
  EXPECT_EQ(Read(At("ca/ca1.der")), std::string(AsString(*ossl::CertToDer(pki.ca.get()))));

  auto manifest = ParseManifest(Read(At("manifest.json")));
  ASSERT_TRUE(manifest) << manifest.error().ToString();
  EXPECT_EQ(manifest->generated_at, now);
  ASSERT_EQ(manifest->files.size(), 5u);
  EXPECT_TRUE(std::is_sorted(manifest->files.begin(), manifest->files.end(),
                             [](auto& a, auto& b) { return a.path < b.path; }));
  for (const ManifestFile& f : manifest->files) {
    std::string body = Read(At(f.path));
    EXPECT_EQ(f.size, body.size()) << f.path;
    EXPECT_EQ(HexEncode(f.sha256), HexEncode(Sha256(body))) << f.path;
    if (f.path == "crl/ca1/3.crl") {
      EXPECT_EQ(f.next_update, now - 2h + 168h);
    }
    if (f.path.starts_with("ocsp/")) {
      EXPECT_EQ(f.next_update, now - 1h + 96h);
    }
  }
  // The manifest's own text is exactly the agreed format.
  auto j = nlohmann::json::parse(Read(At("manifest.json")));
  EXPECT_EQ(j["files"][0].size(), 4u);
  ASSERT_TRUE(e.WriteHealth(pass, now, 0.01));
  EXPECT_EQ(nlohmann::json::parse(Read(At("health.json")))["status"], "ok");
}

TEST_F(ExporterTest, PassesRewriteOnlyWhatChangedAndSurviveARestart) {
  Put(Response("7a01", CertStatus::kGood, now - 1h), now + 30 * 24h);
  Put(Response("7a02", CertStatus::kGood, now - 1h), now + 30 * 24h);
  PublishCrl(CrlScope::Full(), now - 2h);
  {
    Exporter e = Open();
    ASSERT_EQ(e.RunPass(now)->written, 6u);
    auto again = e.RunPass(now + 5s);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->written, 0u);
    EXPECT_EQ(again->removed, 0u);
    // A revocation: only that certificate's two files change.
    Bytes revoked = Response("7a02", CertStatus::kRevoked, now);
    Put(revoked, now + 30 * 24h);
    auto after = e.RunPass(now + 10s);
    ASSERT_TRUE(after);
    EXPECT_EQ(after->written, 2u);
    for (const std::string& p : Paths("7a02"))
      EXPECT_EQ(Read(At(p)), std::string(AsString(revoked)));
  }
  // A new process starts from the manifest: nothing to rewrite.
  Exporter restarted = Open();
  auto pass = restarted.RunPass(now + 15s);
  ASSERT_TRUE(pass);
  EXPECT_EQ(pass->written, 0u);
  EXPECT_EQ(pass->files, 6u);
  // A file changed behind the exporter's back (other size) is written again after a restart.
  std::ofstream(At(Paths("7a01")[0]), std::ios::trunc) << "x";
  Exporter again = Open();
  EXPECT_EQ(again.RunPass(now + 20s)->written, 1u);
}

// nginx's ETag is the file's mtime (seconds) and size: each manifest gets a later mtime than the
// last one, even within one second and across a restart, so a mirror's If-None-Match never gets a
// 304 for a manifest it has not seen.
TEST_F(ExporterTest, EachManifestGetsALaterMtimeSecond) {
  Put(Response("7b01", CertStatus::kGood, now - 1h), now + 30 * 24h);
  auto mtime = [&] {
    struct stat st {};
    EXPECT_EQ(::stat(At("manifest.json").c_str(), &st), 0);
    return st.st_mtime;
  };
  std::vector<time_t> seen;
  {
    Exporter e = Open();
    ASSERT_TRUE(e.RunPass(now));
    seen.push_back(mtime());
    EXPECT_EQ(seen.back(), pki::ToUnix(now));
    ASSERT_TRUE(e.RunPass(now));  // the same second
    seen.push_back(mtime());
  }
  Exporter restarted = Open();
  ASSERT_TRUE(restarted.RunPass(now));
  seen.push_back(mtime());
  ASSERT_TRUE(restarted.RunPass(now + 10s));
  seen.push_back(mtime());
  EXPECT_EQ(seen, (std::vector<time_t>{pki::ToUnix(now), pki::ToUnix(now) + 1, pki::ToUnix(now) + 2,
                                       pki::ToUnix(now + 10s)}));
}

TEST_F(ExporterTest, StaleExpiredAndDeletedArtifactsLeaveTheExport) {
  Put(Response("7a01", CertStatus::kGood, now - 1h), now + 30 * 24h);
  Put(Response("7a02", CertStatus::kGood, now - 1h), now + 2h);  // certificate expires soon
  Put(Response("7a03", CertStatus::kGood, now - 1h), now + 30 * 24h);
  PublishCrl(CrlScope::Full(), now - 2h, 48h);
  Exporter e = Open();
  ASSERT_EQ(e.RunPass(now)->files, 8u);
  // Three hours later: 7a02's certificate expired; then 7a03 is deleted from the store.
  auto later = e.RunPass(now + 3h);
  ASSERT_TRUE(later);
  EXPECT_EQ(later->removed, 2u);
  for (const std::string& p : Paths("7a02")) EXPECT_FALSE(fs::exists(At(p))) << p;
  ASSERT_TRUE(store->DeleteOcspResponses("ca1", std::vector{*pki::Serial::FromHex("7a03")}));
  EXPECT_EQ(e.RunPass(now + 3h)->removed, 2u);
  for (const std::string& p : Paths("7a03")) EXPECT_FALSE(fs::exists(At(p))) << p;
  // Within keep_margin (900 s) of nextUpdate the CRL is withheld, the response too (96 h).
  auto near = e.RunPass(now - 2h + 48h - 899s);
  ASSERT_TRUE(near);
  EXPECT_EQ(near->withheld, 1u);
  EXPECT_FALSE(fs::exists(At("crl/ca1.crl")));
  EXPECT_TRUE(fs::exists(At(Paths("7a01")[1])));
  auto past = e.RunPass(now - 1h + 96h);
  ASSERT_TRUE(past);
  EXPECT_EQ(past->withheld, 2u);
  for (const std::string& p : Paths("7a01")) EXPECT_FALSE(fs::exists(At(p))) << p;
  EXPECT_TRUE(fs::exists(At("ca/ca1.der")));
  auto manifest = ParseManifest(Read(At("manifest.json")));
  ASSERT_TRUE(manifest);
  ASSERT_EQ(manifest->files.size(), 1u);
  EXPECT_EQ(manifest->files[0].path, "ca/ca1.der");
  ASSERT_TRUE(e.WriteHealth(past, now, 0.01));
  auto health = nlohmann::json::parse(Read(At("health.json")));
  EXPECT_EQ(health["status"], "unhealthy");
  EXPECT_EQ(health["withheld_stale"], 2);
}

TEST_F(ExporterTest, ConfiguredIssuerMissingFromTheStoreIsReported) {
  auto e = Exporter::Open(store->env(), store->dbs(), {out.path(), {"ca1", "other"}, 900s});
  ASSERT_TRUE(e);
  auto pass = e->RunPass(now);
  ASSERT_TRUE(pass);
  EXPECT_EQ(pass->missing, std::vector<std::string>{"other"});
  EXPECT_FALSE(Exporter::Open(store->env(), store->dbs(), {out.path(), {"../x"}, 900s}));
}

}  // namespace
}  // namespace ca::crl_ocsp::exporter
