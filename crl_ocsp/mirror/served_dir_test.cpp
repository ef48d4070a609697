#include "crl_ocsp/mirror/served_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "crl_ocsp/testing/temp_dir.h"

namespace ca::crl_ocsp::mirror {
namespace {

namespace fs = std::filesystem;
using crl_ocsp::testing::TempDir;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ServedDir, InstallsReadsAndRemovesWithEmptyParents) {
  TempDir tmp;
  auto dir = ServedDir::Open(tmp.path());
  ASSERT_TRUE(dir) << dir.error().message;
  ASSERT_TRUE(dir->Install("ocsp/AB/cd==", AsBytes("resp")));
  EXPECT_EQ(Slurp(fs::path(tmp.path()) / "ocsp/AB/cd=="), "resp");
  struct stat st {};
  ASSERT_EQ(::stat((tmp.path() + "/ocsp/AB/cd==").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  auto read = dir->Read("ocsp/AB/cd==", 100);
  ASSERT_TRUE(read && *read);
  EXPECT_EQ(AsString(**read), "resp");
  EXPECT_FALSE(dir->Read("ocsp/AB/cd==", 2));  // above the limit
  ASSERT_TRUE(dir->Install("ocsp/AB/cd==", AsBytes("revoked")));
  EXPECT_EQ(Slurp(fs::path(tmp.path()) / "ocsp/AB/cd=="), "revoked");
  ASSERT_TRUE(dir->Remove("ocsp/AB/cd=="));
  EXPECT_FALSE(fs::exists(fs::path(tmp.path()) / "ocsp"));
  EXPECT_TRUE(dir->Remove("never/there"));
  auto missing = dir->Read("never/there", 10);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TEST(ServedDir, NeverFollowsASymlinkInTheWay) {
  TempDir tmp, outside;
  auto dir = ServedDir::Open(tmp.path());
  ASSERT_TRUE(dir);
  fs::create_symlink(outside.path(), fs::path(tmp.path()) / "crl");
  ASSERT_TRUE(dir->Install("crl/ca.crl", AsBytes("crl")));
  EXPECT_FALSE(fs::is_symlink(fs::path(tmp.path()) / "crl"));
  EXPECT_EQ(Slurp(fs::path(tmp.path()) / "crl/ca.crl"), "crl");
  EXPECT_TRUE(fs::is_empty(outside.path()));
  // A symlinked file is not read through either.
  std::ofstream(fs::path(outside.path()) / "secret") << "x";
  fs::create_symlink(fs::path(outside.path()) / "secret", fs::path(tmp.path()) / "crl/link.crl");
  auto read = dir->Read("crl/link.crl", 100);
  ASSERT_TRUE(read);
  EXPECT_FALSE(*read);
}

TEST(ServedDir, SweepKeepsListedFilesOnly) {
  TempDir tmp;
  auto dir = ServedDir::Open(tmp.path());
  ASSERT_TRUE(dir);
  ASSERT_TRUE(dir->Install("manifest.json", AsBytes("{}")));
  ASSERT_TRUE(dir->Install("crl/a.crl", AsBytes("a")));
  ASSERT_TRUE(dir->Install("crl/old/1.crl", AsBytes("b")));
  std::ofstream(fs::path(tmp.path()) / "crl/.mirror-tmp-dead") << "partial";
  fs::create_symlink("/etc", fs::path(tmp.path()) / "etc");
  auto removed = dir->Sweep({"manifest.json", "crl/a.crl"});
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(*removed, 3u);
  EXPECT_TRUE(fs::exists(fs::path(tmp.path()) / "crl/a.crl"));
  EXPECT_FALSE(fs::exists(fs::path(tmp.path()) / "crl/old"));
  EXPECT_FALSE(fs::is_symlink(fs::path(tmp.path()) / "etc"));
  EXPECT_TRUE(fs::exists("/etc/passwd") || fs::exists("/etc"));
}

TEST(ServedDir, RefusesADirectoryThatIsNotAMirrors) {
  TempDir tmp;
  std::ofstream(fs::path(tmp.path()) / "index.html") << "site";
  auto dir = ServedDir::Open(tmp.path());
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(fs::exists(fs::path(tmp.path()) / "index.html"));
}

}  // namespace
}  // namespace ca::crl_ocsp::mirror
