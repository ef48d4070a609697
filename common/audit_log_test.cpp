#include "common/audit_log.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace ca::audit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/audit_log_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/audit.jsonl";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Read() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void Write(const std::string& text) const {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << text;
  }
  std::vector<std::string> Lines() const {
    std::vector<std::string> out;
    std::istringstream in(Read());
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  static std::string Join(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
  }
  void AppendN(int n, const std::string& writer = "test") {
    auto log = AuditLog::Open(path_, writer);
    ASSERT_TRUE(log) << log.error().ToString();
    for (int i = 0; i < n; ++i) {
      auto seq =
          (*log)->Append("issued", {{"serial", "0a" + std::to_string(i)}, {"account", "acct-1"}});
      ASSERT_TRUE(seq) << seq.error().ToString();
    }
  }

  std::string dir_, path_;
};

TEST_F(AuditLogTest, EntriesCarrySeqTimePrevAndHashAndVerify) {
  AppendN(3);
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 3u);
  json first = json::parse(lines[0]);
  json second = json::parse(lines[1]);
  EXPECT_EQ(first["seq"], 1);
  EXPECT_EQ(first["event"], "issued");
  EXPECT_EQ(first["serial"], "0a0");
  EXPECT_EQ(first["account"], "acct-1");
  EXPECT_EQ(first["writer"], "test");
  EXPECT_EQ(first["prev"], std::string(kGenesisHash));
  EXPECT_TRUE(first["ts"].get<std::string>().ends_with("Z"));
  EXPECT_EQ(first["hash"], EntryHash(first));
  EXPECT_EQ(second["prev"], first["hash"]);
  EXPECT_EQ(second["seq"], 2);
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->entries, 3u);
  EXPECT_EQ(report->last_seq, 3u);
  EXPECT_EQ(report->last_hash, json::parse(lines[2])["hash"]);
}

TEST_F(AuditLogTest, ChainResumesAcrossReopen) {
  AppendN(2);
  AppendN(2, "second");
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(json::parse(lines[2])["seq"], 3);
  EXPECT_EQ(json::parse(lines[2])["prev"], json::parse(lines[1])["hash"]);
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok()) << report->problems.front().what;
  EXPECT_EQ(report->entries, 4u);
}

TEST_F(AuditLogTest, TwoWritersInOneProcessInterleave) {
  auto a = AuditLog::Open(path_, "a");
  auto b = AuditLog::Open(path_, "b");
  ASSERT_TRUE(a && b);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE((*a)->Append("x", {{"i", i}}));
    ASSERT_TRUE((*b)->Append("y", {{"i", i}}));
  }
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->entries, 20u);
}

TEST_F(AuditLogTest, ConcurrentThreadsAndProcessesKeepOneChain) {
  constexpr int kPerWriter = 200;
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto log = AuditLog::Open(path_, "child");
    if (!log) ::_exit(3);
    for (int i = 0; i < kPerWriter; ++i) {
      if (!(*log)->Append("revoked", {{"i", i}})) ::_exit(4);
    }
    ::_exit((*log)->Sync() ? 0 : 5);
  }
  {
    auto log = AuditLog::Open(path_, "parent");
    ASSERT_TRUE(log) << log.error().ToString();
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerWriter; ++i)
          EXPECT_TRUE((*log)->Append("issued", {{"t", t}, {"i", i}}));
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_TRUE((*log)->Sync());
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok()) << report->problems.front().line << ": "
                            << report->problems.front().what;
  EXPECT_EQ(report->entries, 3u * kPerWriter);
  EXPECT_EQ(report->last_seq, 3u * kPerWriter);
}

TEST_F(AuditLogTest, ModifiedFieldIsReportedOnItsLine) {
  AppendN(4);
  auto lines = Lines();
  // The serial field itself (a bare "0a2" may also occur inside a hex hash).
  const std::string field = "\"serial\":\"0a2\"";
  auto at = lines[2].find(field);
  ASSERT_NE(at, std::string::npos);
  lines[2][at + field.size() - 2] = '9';
  Write(Join(lines));
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_EQ(report->problems[0].line, 3u);
  EXPECT_NE(report->problems[0].what.find("hash does not match"), std::string::npos);
}

TEST_F(AuditLogTest, RecomputedHashStillBreaksTheNextLink) {
  AppendN(3);
  auto lines = Lines();
  json e = json::parse(lines[1]);
  e["serial"] = "ff";
  e["hash"] = EntryHash(e);  // a forger recomputes this entry's hash...
  lines[1] = Canonical(e);
  Write(Join(lines));
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_EQ(report->problems[0].line, 3u);  // ...and the next entry no longer chains to it
  EXPECT_NE(report->problems[0].what.find("prev does not match the hash of line 2"),
            std::string::npos);
}

TEST_F(AuditLogTest, DeletedLineIsReported) {
  AppendN(4);
  auto lines = Lines();
  lines.erase(lines.begin() + 1);
  Write(Join(lines));
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  ASSERT_FALSE(report->ok());
  EXPECT_EQ(report->problems[0].line, 2u);
  EXPECT_NE(report->problems[0].what.find("deleted"), std::string::npos);
  bool seq_reported = false;
  for (const auto& p : report->problems)
    seq_reported = seq_reported || p.what == "seq 3, expected 2";
  EXPECT_TRUE(seq_reported);
}

TEST_F(AuditLogTest, DeletedFirstLineIsReported) {
  AppendN(2);
  auto lines = Lines();
  lines.erase(lines.begin());
  Write(Join(lines));
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  ASSERT_FALSE(report->ok());
  EXPECT_EQ(report->problems[0].line, 1u);
  EXPECT_NE(report->problems[0].what.find("genesis"), std::string::npos);
}

TEST_F(AuditLogTest, SwappedLinesAreReported) {
  AppendN(4);
  auto lines = Lines();
  std::swap(lines[1], lines[2]);
  Write(Join(lines));
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  ASSERT_FALSE(report->ok());
  EXPECT_EQ(report->problems[0].line, 2u);
}

TEST_F(AuditLogTest, TruncatedLastLineIsReportedAndTheWriterRepairsIt) {
  AppendN(3);
  std::string text = Read();
  auto complete = Lines();
  Write(text.substr(0, text.size() - 20));
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_EQ(report->problems[0].line, 3u);
  EXPECT_NE(report->problems[0].what.find("incomplete last line"), std::string::npos);
  EXPECT_EQ(report->entries, 2u);
  // The writer cuts the torn line, records the repair and continues the chain from entry 2.
  auto log = AuditLog::Open(path_, "test");
  ASSERT_TRUE(log) << log.error().ToString();
  ASSERT_TRUE((*log)->Append("issued", {{"serial", "0b"}}));
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1], complete[1]);
  json repaired = json::parse(lines[2]);
  EXPECT_EQ(repaired["event"], "audit_tail_repaired");
  EXPECT_EQ(repaired["removed_bytes"], complete[2].size() + 1 - 20);
  EXPECT_EQ(repaired["seq"], 3);
  report = VerifyFile(path_);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok());
}

// A write that fails part-way (volume full: here RLIMIT_FSIZE) leaves no partial line; once the
// space is back the next append continues the chain, in the same process.
TEST_F(AuditLogTest, FailedWriteIsCutBackAndAppendsResumeWhenSpaceReturns) {
  AppendN(2);
  int64_t before = static_cast<int64_t>(Read().size());
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    auto log = AuditLog::Open(path_, "child");
    if (!log) ::_exit(10);
    struct rlimit lim {};
    ::getrlimit(RLIMIT_FSIZE, &lim);
    struct rlimit small = lim;
    small.rlim_cur = static_cast<rlim_t>(before + 100);  // room for part of a line only
    ::setrlimit(RLIMIT_FSIZE, &small);
    auto failed =
        (*log)->AppendDurable("issued", {{"serial", "0c"}, {"pad", std::string(300, 'x')}});
    if (failed) ::_exit(11);
    if (std::filesystem::file_size(path_) != static_cast<uintmax_t>(before)) ::_exit(12);
    ::setrlimit(RLIMIT_FSIZE, &lim);
    if (!(*log)->AppendDurable("issued", {{"serial", "0d"}})) ::_exit(13);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(json::parse(lines[2])["serial"], "0d");
  EXPECT_EQ(json::parse(lines[2])["seq"], 3);
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok());
}

// chattr +a (acme-ca-setup's default): the torn line cannot be cut, so it is sealed by a newline
// and an audit_tail_repaired entry naming its bytes, which the verifier accepts; any other
// non-JSON line is still reported.
TEST_F(AuditLogTest, TornLineOfAnAppendOnlyFileIsSealed) {
  AppendN(2);
  std::string torn = Lines()[1].substr(0, 50);
  {
    std::ofstream(path_, std::ios::binary | std::ios::app) << torn;  // a crash mid-write
  }
  int fd = ::open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  int flags = 0;
  bool append_only = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
                     (flags |= FS_APPEND_FL, ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0);
  if (!append_only) {
    ::close(fd);
    GTEST_SKIP() << "no append-only attribute here (needs root and a filesystem that has it)";
  }
  {
    auto log = AuditLog::Open(path_, "test");
    EXPECT_TRUE(log) << log.error().ToString();
    if (log) {
      EXPECT_TRUE((*log)->Append("issued", {{"serial", "0e"}}));
    }
  }
  flags &= ~FS_APPEND_FL;
  ::ioctl(fd, FS_IOC_SETFLAGS, &flags);
  ::close(fd);
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[2], torn);
  json seal = json::parse(lines[3]);
  EXPECT_EQ(seal["event"], "audit_tail_repaired");
  EXPECT_EQ(seal["torn_bytes"], torn.size());
  EXPECT_EQ(seal["seq"], 3);
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok()) << report->problems[0].what;
  EXPECT_EQ(report->entries, 4u);
  // The same bytes changed: the seal no longer matches them.
  lines[2][10] = lines[2][10] == 'x' ? 'y' : 'x';
  auto tampered = VerifyText(Join(lines));
  ASSERT_FALSE(tampered.ok());
  EXPECT_EQ(tampered.problems[0].line, 3u);
  EXPECT_EQ(tampered.problems[0].what, "not a JSON object");
}

TEST_F(AuditLogTest, ScanFromVisitsTheEntriesFromTheLineOfTheOffset) {
  AppendN(3);
  auto log = AuditLog::Open(path_, "test");
  ASSERT_TRUE(log);
  auto lines = Lines();
  std::vector<std::string> seen;
  auto collect = [&](const json& e) { seen.push_back(e["serial"].get<std::string>()); };
  ASSERT_TRUE((*log)->ScanFrom(static_cast<int64_t>(lines[0].size()) + 5, collect));
  EXPECT_EQ(seen, (std::vector<std::string>{"0a1", "0a2"}));
  seen.clear();
  ASSERT_TRUE((*log)->ScanFrom(1 << 30, collect));
  EXPECT_TRUE(seen.empty());
}

TEST_F(AuditLogTest, WriterRefusesAModifiedLastEntry) {
  AppendN(2);
  auto lines = Lines();
  lines[1].replace(lines[1].find("acct-1"), 6, "acct-2");
  Write(Join(lines));
  auto log = AuditLog::Open(path_, "test");
  ASSERT_FALSE(log);
  EXPECT_NE(log.error().message.find("last entry is corrupt"), std::string::npos);
}

TEST_F(AuditLogTest, WhitespaceEditIsNotCanonical) {
  AppendN(1);
  auto lines = Lines();
  lines[0].insert(1, " ");
  Write(Join(lines));
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_NE(report->problems[0].what.find("canonical"), std::string::npos);
}

TEST_F(AuditLogTest, ReservedFieldsAreRefused) {
  auto log = AuditLog::Open(path_, "test");
  ASSERT_TRUE(log);
  auto r = (*log)->Append("issued", {{"seq", 7}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Read(), "");
}

TEST_F(AuditLogTest, AppendBatchSeesTheLastEntryUnderTheLock) {
  auto log = AuditLog::Open(path_, "ra");
  ASSERT_TRUE(log);
  auto make = [](const json& last) -> Result<std::vector<AuditEvent>> {
    uint64_t done = last.is_null() ? 0 : last.value("policy_seq", uint64_t{0});
    std::vector<AuditEvent> out;
    for (uint64_t s = done + 1; s <= 3; ++s) out.push_back({"policy_change", {{"policy_seq", s}}});
    return out;
  };
  auto n = (*log)->AppendBatch(make);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 3u);
  n = (*log)->AppendBatch(make);  // nothing new: nothing appended twice
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->entries, 3u);
}

TEST_F(AuditLogTest, LongLinesAreReadBackAsTheTail) {
  auto log = AuditLog::Open(path_, "test");
  ASSERT_TRUE(log);
  ASSERT_TRUE((*log)->Append("big", {{"blob", std::string(10000, 'a')}}));
  log->reset();
  AppendN(1);
  auto report = VerifyFile(path_);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->last_seq, 2u);
}

TEST(AuditVerify, EmptyTextIsIntact) {
  auto r = VerifyText("");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.entries, 0u);
}

}  // namespace
}  // namespace ca::audit
