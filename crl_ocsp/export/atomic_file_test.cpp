#include "crl_ocsp/export/atomic_file.h"

#include <sys/stat.h>

#include <gtest/gtest.h>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/encoding.h"
#include "crl_ocsp/testing/temp_dir.h"

namespace ca::crl_ocsp::exporter {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(AtomicFileTest, WritesWholeFilesWithModeAndMtimeAndReplaces) {
  testing::TempDir dir;
  Time t = pki::FromUnix(1700000000);
  ::umask(077);  // the mode does not depend on the umask
  ASSERT_TRUE(WriteFileAtomic(dir.path(), "ocsp/MEUw/a+b=", AsBytes("first"), t));
  fs::path file = fs::path(dir.path()) / "ocsp/MEUw/a+b=";
  EXPECT_EQ(Read(file), "first");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtime, 1700000000);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  ino_t first_inode = st.st_ino;
  ASSERT_TRUE(WriteFileAtomic(dir.path(), "ocsp/MEUw/a+b=", AsBytes("second"),
                              t + std::chrono::seconds(60)));
  EXPECT_EQ(Read(file), "second");
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_NE(st.st_ino,
            first_inode);  // a new file renamed over the old one, never rewritten in place
  EXPECT_EQ(st.st_mtime, 1700000060);
  EXPECT_TRUE(fs::is_empty(fs::path(dir.path()) / kStagingDir));
  ::umask(022);
}

TEST(AtomicFileTest, BatchReplacesFilesOnlyAtCommitAndCleansUpOtherwise) {
  testing::TempDir dir;
  Time t = pki::FromUnix(1700000000);
  ASSERT_TRUE(WriteFileAtomic(dir.path(), "crl/a.crl", AsBytes("old"), t));
  fs::path staging = fs::path(dir.path()) / kStagingDir;
  {
    AtomicBatch batch(dir.path());
    ASSERT_TRUE(batch.Add("crl/a.crl", AsBytes("new"), t + std::chrono::seconds(1)));
    ASSERT_TRUE(batch.Add("ocsp/X/y", AsBytes("resp"), t));
    EXPECT_EQ(batch.pending(), 2u);
    EXPECT_EQ(Read(fs::path(dir.path()) / "crl/a.crl"), "old");  // nothing visible before Commit
    EXPECT_FALSE(fs::exists(fs::path(dir.path()) / "ocsp/X/y"));
    ASSERT_TRUE(batch.Commit());
    EXPECT_EQ(batch.pending(), 0u);
  }
  EXPECT_EQ(Read(fs::path(dir.path()) / "crl/a.crl"), "new");
  EXPECT_EQ(Read(fs::path(dir.path()) / "ocsp/X/y"), "resp");
  struct stat st {};
  ASSERT_EQ(::stat((fs::path(dir.path()) / "crl/a.crl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtime, 1700000001);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  {
    AtomicBatch abandoned(dir.path());  // a failed pass: its temporary files go, targets stay
    ASSERT_TRUE(abandoned.Add("crl/a.crl", AsBytes("never"), t));
    EXPECT_FALSE(abandoned.Add("../x", AsBytes("bad"), t));
  }
  EXPECT_EQ(Read(fs::path(dir.path()) / "crl/a.crl"), "new");
  EXPECT_TRUE(fs::is_empty(staging));
}

TEST(AtomicFileTest, RefusesPathsOutsideTheExport) {
  testing::TempDir dir;
  for (std::string_view bad : {"", "/etc/x", "ocsp/../../x", "./a", "ocsp/"}) {
    auto r = WriteFileAtomic(dir.path(), bad, AsBytes("x"), pki::Now());
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(AtomicFileTest, RemovalPrunesEmptyDirectoriesBelowTheTopFolder) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.path(), "ocsp/A/B/c", AsBytes("1"), pki::Now()));
  ASSERT_TRUE(WriteFileAtomic(dir.path(), "ocsp/A/d", AsBytes("2"), pki::Now()));
  ASSERT_TRUE(RemoveExportedFile(dir.path(), "ocsp/A/B/c"));
  EXPECT_FALSE(fs::exists(fs::path(dir.path()) / "ocsp/A/B"));
  EXPECT_TRUE(fs::exists(fs::path(dir.path()) / "ocsp/A/d"));
  ASSERT_TRUE(RemoveExportedFile(dir.path(), "ocsp/A/d"));
  EXPECT_FALSE(fs::exists(fs::path(dir.path()) / "ocsp/A"));
  EXPECT_TRUE(fs::exists(fs::path(dir.path()) / "ocsp"));
  EXPECT_TRUE(RemoveExportedFile(dir.path(), "ocsp/never/there"));  // absent is fine
}

}  // namespace
}  // namespace ca::crl_ocsp::exporter
