#include "profiles/policy/store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "profiles/policy/admin/admin.h"
#include "profiles/policy/mac_key.h"
#include "profiles/policy/testing_util.h"

namespace ca::profiles::policy {
using namespace admin;  // the tests build stores through the write side
namespace {

using testing::TempDir;

TEST(PolicyStore, InitRefusesExistingAndOpenRefusesMissing) {
  TempDir dir;
  std::string path = dir.Sub("policy");
  auto missing = PolicyStore::OpenReadOnly(path);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("ca-ra init"), std::string::npos);
  {
    auto s = PolicyWriter::Create(path, "alice", 1000);
    ASSERT_TRUE(s) << s.error().ToString();
    auto snap = s->Snapshot();
    ASSERT_TRUE(snap);
    EXPECT_EQ(snap->version(), 1u);
    auto audit = snap->Audit();
    ASSERT_EQ(audit.size(), 1u);
    EXPECT_EQ(audit[0].action, "store.init");
    EXPECT_EQ(audit[0].actor, "alice");
  }
  auto again = PolicyWriter::Create(path, "alice", 1000);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
}

TEST(PolicyStore, SecondOpenInOneProcessRefused) {
  TempDir dir;
  auto s = PolicyWriter::Create(dir.Sub("p"), "a", 1);
  ASSERT_TRUE(s);
  auto twice = PolicyStore::OpenReadOnly(dir.Sub("p"));
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("already open in this process"), std::string::npos);
}

TEST(PolicyStore, NetworkFilesystemRefused) {
  // Needs a mounted network filesystem (nfs, cifs, fuse…); the check itself is in common/lmdb.
  std::ifstream mounts("/proc/mounts");
  std::string dev, mnt, type, rest;
  std::string found;
  while (mounts >> dev >> mnt >> type && std::getline(mounts, rest)) {
    if (type.starts_with("nfs") || type == "cifs" || type == "smb3" || type.starts_with("fuse.")) {
      found = mnt;
      break;
    }
  }
  if (found.empty()) GTEST_SKIP() << "no network filesystem mounted on this host";
  auto s = PolicyStore::OpenReadOnly(found);
  ASSERT_FALSE(s);
}

TEST(PolicyStore, NewerSchemaRefused) {
  TempDir dir;
  std::string path = dir.Sub("p");
  { ASSERT_TRUE(PolicyWriter::Create(path, "a", 1)); }
  {
    kv::EnvOptions o;
    o.location = path;
    auto env = kv::Env::Open(o);
    ASSERT_TRUE(env);
    auto meta = env->OpenTable("meta", false);
    ASSERT_TRUE(meta);
    auto txn = kv::Txn::BeginWrite(*env);
    ASSERT_TRUE(txn->Put(*meta, "schema_version", "2"));
    ASSERT_TRUE(txn->Commit());
  }
  for (bool writer : {false, true}) {
    auto error_of = [](const auto& opened) -> Status {
      if (opened) return Ok();
      return std::unexpected(opened.error());
    };
    Status s = writer ? error_of(PolicyWriter::Open(path)) : error_of(PolicyStore::OpenReadOnly(path));
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(s.error().message.find("schema version 2"), std::string::npos);
  }
}

TEST(PolicyStore, VersionMonotonicAndSnapshotIsolated) {
  TempDir dir;
  auto store = PolicyWriter::Create(dir.Sub("p"), "a", 1);
  ASSERT_TRUE(store);
  AdminContext ctx{&*store, "bob", 100};
  auto before = store->Snapshot();
  ASSERT_TRUE(before);
  uint64_t last = before->version();
  std::string org_id;
  for (int i = 0; i < 5; ++i) {
    auto o = CreateOrganization(
        ctx, {"Org " + std::to_string(i), "fr", "Paris", "SIRET" + std::to_string(i)});
    ASSERT_TRUE(o) << o.error().ToString();
    org_id = o->id;
    auto snap = store->Snapshot();
    ASSERT_TRUE(snap);
    EXPECT_EQ(snap->version(), last + 1);
    last = snap->version();
    // Every write has its audit record, carrying the version it committed as.
    auto audit = snap->Audit();
    ASSERT_FALSE(audit.empty());
    EXPECT_EQ(audit.back().policy_version, snap->version());
    EXPECT_EQ(audit.back().object_id, o->id);
    EXPECT_EQ(audit.back().actor, "bob");
  }
  // The snapshot taken first still sees the store as it was (one read transaction).
  EXPECT_EQ(before->version(), 1u);
  EXPECT_TRUE(before->Organizations().empty());
  EXPECT_FALSE(before->FindOrganization(org_id));

  // A failed operation changes nothing, not even the version.
  auto bad = CreateOrganization(ctx, {"X", "France", "Paris", "1"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(store->Snapshot()->version(), last);
  EXPECT_EQ(store->Snapshot()->Organizations().size(), 5u);
}

// Finders reuse records parsed from identical bytes (common/decoded_records.h): a record written
// since is read as written, by a snapshot of the same store and by another store's reader.
TEST(PolicyStore, FindersReadEveryChangeDespiteTheParsedRecordCache) {
  TempDir dir;
  auto store = PolicyWriter::Create(dir.Sub("p"), "a", 1);
  ASSERT_TRUE(store);
  AdminContext ctx{&*store, "bob", 100};
  auto o = CreateOrganization(ctx, {"Org", "fr", "Paris", "SIRET1"});
  ASSERT_TRUE(o) << o.error().ToString();
  auto before = store->Snapshot()->FindOrganization(o->id);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->name, "Org");
  EXPECT_EQ(store->Snapshot()->FindOrganization(o->id)->name, "Org");  // the cached parse
  ASSERT_TRUE(UpdateOrganization(ctx, o->id, {"Renamed", "fr", "Paris", "SIRET1"}));
  EXPECT_EQ(store->Snapshot()->FindOrganization(o->id)->name, "Renamed");
  ASSERT_TRUE(SetOrganizationStatus(ctx, o->id, OrgStatus::kValid));
  auto validated = store->Snapshot()->FindOrganization(o->id);
  ASSERT_TRUE(validated);
  EXPECT_EQ(validated->status, OrgStatus::kValid);
  EXPECT_EQ(validated->name, "Renamed");
}

// The read side has no write API at all (the build enforces it: BeginWrite is only on the RA's
// PolicyWriter, in ca_policy_admin), and its LMDB environment refuses a write transaction.
template <class S>
concept CanBeginWrite = requires(const S& s) { s.BeginWrite(std::string(), int64_t{0}); };
static_assert(!CanBeginWrite<PolicyStore>);
static_assert(CanBeginWrite<PolicyWriter>);

// Reaches the environment of a read-only store, to show LMDB refuses to write through it.
class EnvProbe : public PolicyStore {
 public:
  explicit EnvProbe(PolicyStore s) : PolicyStore(std::move(s)) {}
  const kv::Env& env() const { return env_; }
};

TEST(PolicyStore, ReadOnlyStoreCannotWrite) {
  TempDir dir;
  std::string path = dir.Sub("p");
  { ASSERT_TRUE(PolicyWriter::Create(path, "a", 1)); }
  auto ro = PolicyStore::OpenReadOnly(path);
  ASSERT_TRUE(ro) << ro.error().ToString();
  EnvProbe probe(std::move(*ro));
  auto w = kv::Txn::BeginWrite(probe.env());
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(probe.Snapshot()->version(), 1u);
}

TEST(PolicyStore, WriteWithoutAuditRefused) {
  TempDir dir;
  auto store = PolicyWriter::Create(dir.Sub("p"), "a", 1);
  ASSERT_TRUE(store);
  {
    auto w = store->BeginWrite("a", 2);
    ASSERT_TRUE(w);
    Organization o;
    o.id = "x";
    ASSERT_TRUE(w->PutOrganization(o));
    auto st = w->Commit();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, ErrorCode::kInternal);
  }
  EXPECT_FALSE(store->Snapshot()->FindOrganization("x"));
  EXPECT_EQ(store->Snapshot()->version(), 1u);
}

TEST(PolicyStore, AuditFilters) {
  TempDir dir;
  auto store = PolicyWriter::Create(dir.Sub("p"), "a", 1);
  ASSERT_TRUE(store);
  const EVP_PKEY* wrap = testing::SoftwareMacWrapKey();
  auto org = CreateOrganization({&*store, "a", 100}, {"O", "FR", "L", "R"});
  ASSERT_TRUE(org);
  ExternalAccountFields f;
  f.organization_id = org->id;
  f.contacts = std::vector<std::string>{"Jane Doe"};
  auto ext = CreateExternalAccount({&*store, "a", 200}, f, true, wrap);
  ASSERT_TRUE(ext);
  ASSERT_TRUE(AddDomain({&*store, "a", 300}, ext->account.kid, "Example.com", {}));
  ASSERT_TRUE(AddDomain({&*store, "a", 400}, ext->account.kid, "other.org", {}));
  auto snap = store->Snapshot();
  auto by_domain = snap->Audit({.domain = "example.com"});
  ASSERT_EQ(by_domain.size(), 1u);
  EXPECT_EQ(by_domain[0].action, "domain.add");
  EXPECT_EQ(by_domain[0].after["fqdn"], "example.com");
  EXPECT_TRUE(by_domain[0].before.is_null());
  auto by_account = snap->Audit({.account = ext->account.kid});
  ASSERT_EQ(by_account.size(), 3u);
  EXPECT_EQ(by_account[0].action, "ext-account.create");
  // The audit never holds key material.
  EXPECT_FALSE(by_account[0].after.contains("mac_wrapped"));
  EXPECT_EQ(by_account[0].after.dump().find(MacKeyToText(ext->mac_key)), std::string::npos);
  auto window = snap->Audit({.since = 200, .until = 300});
  ASSERT_EQ(window.size(), 2u);
  EXPECT_EQ(window[0].time, 200);
  EXPECT_EQ(window[1].time, 300);
}

}  // namespace
}  // namespace ca::profiles::policy
