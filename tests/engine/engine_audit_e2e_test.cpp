// End to end: the real ca-engine fails closed on its audit trail (issue 15, "Audit trail fails
// open"). The audit file lives on a small tmpfs mounted for the test (root only; skipped
// otherwise): with the volume full nothing is signed and the refusal says why; once space returns
// issuance resumes in the same process. A torn last line is repaired at start (and ca-audit
// verify-audit passes). A SIGKILL between the signature and the audit entry still leaves exactly
// one "issued" entry per certificate of the CA store, however many times the client retries.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/audit_log.h"
#include "engine/ca_instance.h"
#include "engine/ca_store.h"
#include "engine/testing/engine_process.h"
#include "engine/testing/process_checks.h"

namespace ca::engine {
namespace {

using engine::api::EngineError;
using engine::api::EngineErrorKind;
using engine::api::IssueResponse;
using nlohmann::json;
using testing::EngineSetup;
using testing::ReadText;

// A tmpfs of `size` on `dir`, unmounted (lazily) at the end of the scope.
class Tmpfs {
 public:
  Tmpfs(std::string dir, const std::string& size) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    mounted_ =
        ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0700").c_str()) == 0;
  }
  ~Tmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;
  bool mounted() const { return mounted_; }

  // Fills the volume with a file (kept until Free).
  void Fill() {
    std::FILE* f = std::fopen((dir_ + "/filler").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string block(4096, 'f');
    while (std::fwrite(block.data(), 1, block.size(), f) == block.size() && std::fflush(f) == 0) {
    }
    std::fclose(f);
  }
  void Free() { std::filesystem::remove(dir_ + "/filler"); }

 private:
  std::string dir_;
  bool mounted_ = false;
};

// The engine's config with an audit file at `audit_path`.
void UseAuditFile(EngineSetup& setup, const std::string& audit_path) {
  const auto& dir = setup.dir();
  json config = json::parse(ReadText(dir.Sub("engine.json")));
  config["audit_log"] = audit_path;
  ASSERT_TRUE(ossl::WriteFileAtomic(dir.Sub("engine.json"), config.dump(2), 0600, true));
}

// serial -> number of "issued" entries in the audit file.
std::map<std::string, int> IssuedEntries(const std::string& audit_path) {
  std::map<std::string, int> out;
  std::istringstream in(ReadText(audit_path));
  for (std::string line; std::getline(in, line);) {
    json e = json::parse(line, nullptr, false);
    if (e.is_object() && e.value("event", "") == "issued") ++out[e.value("serial", "")];
  }
  return out;
}

struct StoreView {
  std::map<std::string, std::string> issued;  // serial -> request_id
  size_t reserved = 0;
  std::set<std::string> request_ids;  // of every record, issued or reserved
};

// The CA store of a stopped engine.
StoreView ReadStore(EngineSetup& setup) {
  StoreView v;
  auto store = CaStore::Open(setup.store_dir());
  EXPECT_TRUE(store) << store.error().ToString();
  if (!store) return v;
  auto txn = kv::Txn::BeginRead((*store)->env());
  EXPECT_TRUE(txn);
  if (!txn) return v;
  EXPECT_TRUE(
      txn->ForEach((*store)->dbs().certs, "", [&](std::string_view k, std::string_view val) {
        auto rec = CertRecordFromJson(k, val);
        if (!rec) return false;
        v.request_ids.insert(rec->request_id);
        if (rec->state == CertState::kIssued) {
          v.issued[rec->serial_hex] = rec->request_id;
        } else {
          ++v.reserved;
        }
        return true;
      }));
  return v;
}

// `ca-audit verify-audit FILE`: its output.
std::string VerifyAudit(const std::string& path) {
  std::string cmd = std::string(CA_AUDIT_BIN) + " verify-audit " + path + " 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "popen failed";
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(EngineAuditE2E, FullAuditVolumeRefusesAndSignsNothingThenResumesWithoutRestart) {
  auto setup = EngineSetup::Create(CA_ENGINE_BIN);
  ASSERT_TRUE(setup) << setup.error().ToString();
  std::string mount_dir = (*setup)->dir().Sub("auditfs");
  Tmpfs fs(mount_dir, "256k");
  if (!fs.mounted()) GTEST_SKIP() << "mounting a tmpfs needs root";
  std::string audit_path = mount_dir + "/audit.jsonl";
  UseAuditFile(**setup, audit_path);
  ASSERT_TRUE((*setup)->Start());
  pid_t pid = (*setup)->pid();
  auto client = (*setup)->Client();
  ASSERT_TRUE(client);
  int n = 0;
  auto issue = [&](const std::string& id) {
    auto key = testing::FreshRsaKey();
    auto req = testing::MakeIssueRequest(id, (*setup)->kid(), {id + ".example.fr"}, key.get());
    auto resp = client->Issue(req);
    EXPECT_TRUE(resp) << resp.error().ToString();
    ++n;
    return resp ? *resp : engine::api::Response(EngineError{});
  };
  ASSERT_TRUE(std::holds_alternative<IssueResponse>(issue("before-full")));

  fs.Fill();
  // The audit file's last page may still take an entry or two; then every request is refused
  // before anything is reserved or signed.
  std::set<std::string> refused_unsigned, answered;
  int in_a_row = 0;
  for (int i = 0; i < 12 && in_a_row < 3; ++i) {
    std::string id = "full-" + std::to_string(i);
    auto resp = issue(id);
    if (std::holds_alternative<IssueResponse>(resp)) {
      answered.insert(id);
      in_a_row = 0;
      continue;
    }
    const auto& err = std::get<EngineError>(resp);
    EXPECT_EQ(err.kind, EngineErrorKind::kUnavailable) << err.detail;
    EXPECT_EQ(err.result_code, "ACME_CA_ERROR");
    EXPECT_NE(err.detail.find("audit trail unavailable"), std::string::npos) << err.detail;
    if (err.detail.find("nothing was signed") != std::string::npos) {
      refused_unsigned.insert(id);
      ++in_a_row;
    } else {
      in_a_row = 0;  // signed before the volume was full, not acknowledged: a retry gets it
    }
  }
  ASSERT_EQ(in_a_row, 3) << "the engine kept answering with a full audit volume";

  fs.Free();
  auto resumed = issue("after-free");
  ASSERT_TRUE(std::holds_alternative<IssueResponse>(resumed))
      << std::get<EngineError>(resumed).detail;
  EXPECT_EQ((*setup)->pid(), pid);                       // no restart
  std::this_thread::sleep_for(std::chrono::seconds(6));  // background audit of what was signed
  EXPECT_EQ((*setup)->Stop(), 0);

  StoreView store = ReadStore(**setup);
  for (const auto& id : refused_unsigned)
    EXPECT_FALSE(store.request_ids.contains(id)) << id << " was reserved";
  EXPECT_EQ(store.reserved, 0u);
  auto entries = IssuedEntries(audit_path);
  for (const auto& [serial, request_id] : store.issued)
    EXPECT_EQ(entries[serial], 1) << serial << " (" << request_id << ")";
  EXPECT_EQ(entries.size(), store.issued.size());
  EXPECT_NE(VerifyAudit(audit_path).find(": intact: "), std::string::npos)
      << VerifyAudit(audit_path);
}

TEST(EngineAuditE2E, TornLastLineIsRepairedAtStart) {
  auto setup = EngineSetup::Create(CA_ENGINE_BIN);
  ASSERT_TRUE(setup) << setup.error().ToString();
  std::string audit_path = (*setup)->dir().Sub("audit.jsonl");
  UseAuditFile(**setup, audit_path);
  ASSERT_TRUE((*setup)->Start());
  auto client = (*setup)->Client();
  ASSERT_TRUE(client);
  for (int i = 0; i < 2; ++i) {
    auto key = testing::FreshRsaKey();
    auto resp = client->Issue(
        testing::MakeIssueRequest("torn-" + std::to_string(i), (*setup)->kid(),
                                  {"torn" + std::to_string(i) + ".example.fr"}, key.get()));
    ASSERT_TRUE(resp && std::holds_alternative<IssueResponse>(*resp));
  }
  EXPECT_EQ((*setup)->Stop(), 0);
  auto size = std::filesystem::file_size(audit_path);
  std::filesystem::resize_file(audit_path, size - 40);  // a crash mid-write of the last entry
  ASSERT_EQ(VerifyAudit(audit_path).find(": intact: "), std::string::npos);

  ASSERT_TRUE((*setup)->Start()) << ReadText((*setup)->log_path());
  EXPECT_NE(ReadText((*setup)->log_path()).find("\"audit_tail_repaired\""), std::string::npos);
  auto again = (*setup)->Client();
  ASSERT_TRUE(again);
  auto key = testing::FreshRsaKey();
  auto resp = again->Issue(testing::MakeIssueRequest("torn-after", (*setup)->kid(),
                                                     {"torn-after.example.fr"}, key.get()));
  ASSERT_TRUE(resp && std::holds_alternative<IssueResponse>(*resp));
  EXPECT_EQ((*setup)->Stop(), 0);
  std::string verified = VerifyAudit(audit_path);
  EXPECT_NE(verified.find(": intact: "), std::string::npos) << verified;
  EXPECT_NE(ReadText(audit_path).find("\"event\":\"audit_tail_repaired\""), std::string::npos);
}

// SIGKILL after the signature and after the CA store record, before the issued entry; after a
// restart (recovery at open) every certificate of the store has exactly one issued entry, and
// retries (twice) add none.
TEST(EngineAuditE2E, CrashBetweenSignatureAndAuditLeavesExactlyOneIssuedEntry) {
  auto setup = EngineSetup::Create(CA_ENGINE_BIN);
  ASSERT_TRUE(setup) << setup.error().ToString();
  std::string audit_path = (*setup)->dir().Sub("audit.jsonl");
  UseAuditFile(**setup, audit_path);
  std::vector<engine::api::IssueRequest> requests;
  std::vector<ossl::Pkey> keys;
  for (std::string_view step : {"after_sign", "after_record", "before_answer"}) {
    SCOPED_TRACE(std::string(step));
    ASSERT_TRUE((*setup)->Start({{"CA_ENGINE_CRASH_AT", std::string(step)}}));
    auto client = (*setup)->Client();
    ASSERT_TRUE(client);
    keys.push_back(testing::FreshRsaKey());
    std::string id = "kill-" + std::string(step);
    requests.push_back(
        testing::MakeIssueRequest(id, (*setup)->kid(), {"kill.example.fr"}, keys.back().get()));
    auto resp = client->Issue(requests.back());
    EXPECT_FALSE(resp && std::holds_alternative<IssueResponse>(*resp))
        << "answered before the crash";
    int status = (*setup)->WaitExit(10000);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    ASSERT_TRUE((*setup)->Start()) << ReadText((*setup)->log_path());
    EXPECT_EQ((*setup)->Stop(), 0);
    StoreView store = ReadStore(**setup);
    auto entries = IssuedEntries(audit_path);
    EXPECT_EQ(store.reserved, 0u);
    for (const auto& [serial, request_id] : store.issued)
      EXPECT_EQ(entries[serial], 1) << serial << " (" << request_id << ") after the restart";
  }
  ASSERT_TRUE((*setup)->Start());
  auto client = (*setup)->Client();
  ASSERT_TRUE(client);
  for (int round = 0; round < 2; ++round) {
    for (const auto& req : requests) {
      auto resp = client->Issue(req);
      ASSERT_TRUE(resp && std::holds_alternative<IssueResponse>(*resp)) << req.request_id;
    }
  }
  EXPECT_EQ((*setup)->Stop(), 0);
  StoreView store = ReadStore(**setup);
  EXPECT_EQ(store.issued.size(), requests.size());
  auto entries = IssuedEntries(audit_path);
  for (const auto& [serial, request_id] : store.issued)
    EXPECT_EQ(entries[serial], 1) << serial << " (" << request_id << ") after the retries";
  EXPECT_EQ(entries.size(), store.issued.size());
  std::string verified = VerifyAudit(audit_path);
  EXPECT_NE(verified.find(": intact: "), std::string::npos) << verified;
}

}  // namespace
}  // namespace ca::engine
