// The engine pair (issue 20) on a real PostgreSQL 15 (a throwaway cluster, kv/postgres/testing):
// two CA instances, node A and node B, on the same CA store and status store, each with its lease
// keeper on its own connections. A reserves a certificate, then its lease lapses and B takes over:
// A's signature is refused (the reservation stays pending), every write A tries is refused by the
// fence, and B's takeover completes the reservation once.
#include <gtest/gtest.h>

#include <thread>

#include "engine/ca_instance.h"
#include "engine/lease_keeper.h"
#include "engine/testing/engine_fixture.h"
#include "kv/postgres/testing/pg_fixture.h"

namespace ca::engine {
namespace {

using engine::api::EngineError;
using engine::api::EngineErrorKind;
using std::chrono::milliseconds;

class EnginePairPgTest : public kv::postgres::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (HasFatalFailure()) return;
    kid_ = testing::MakePolicyWorld(dir_.Sub("policy")).kid;
    auto policy = profiles::policy::PolicyStore::OpenReadOnly(dir_.Sub("policy"));
    ASSERT_TRUE(policy) << policy.error().ToString();
    policy_ = std::make_unique<profiles::policy::PolicyStore>(std::move(*policy));
  }
  // A node: its keeper on its own Env (the lease lives in the store's database).
  struct Node {
    std::unique_ptr<kv::Env> env;
    std::unique_ptr<LeaseKeeper> keeper;
    std::unique_ptr<CaInstance> instance;
  };
  Node MakeNode(const std::string& name, CrashHook hook = nullptr) {
    Node n;
    auto env = kv::Env::Open({.location = Location("ca"), .create = true});
    EXPECT_TRUE(env) << env.error().ToString();
    n.env = std::make_unique<kv::Env>(std::move(*env));
    n.keeper = std::make_unique<LeaseKeeper>(LeaseKeeperOptions{"engine-production", name, kTtl},
                                             LeaseOpsOn(*n.env));
    n.keeper->RenewOnce();
    auto opt = testing::MakeInstanceOptions(dir_);
    opt.store_dir = Location("ca");
    opt.status_store_dir = Location("status");
    opt.lease = n.keeper.get();
    auto inst = CaInstance::Open(opt, testing::MakeSoftwareKeys(), std::move(hook));
    EXPECT_TRUE(inst) << inst.error().ToString();
    if (inst) n.instance = std::move(*inst);
    n.keeper->RenewOnce();  // as its thread would: opening may take longer than the deadline
    return n;
  }

  static constexpr milliseconds kTtl{3000};
  testing::TempDir dir_;
  std::string kid_;
  std::unique_ptr<profiles::policy::PolicyStore> policy_;
};

TEST_F(EnginePairPgTest, OldHolderIsFencedAndTheNewOneCompletesItsReservationOnce) {
  Node b;
  Node a = MakeNode("node-a", [&](std::string_view step) {
    if (step != "after_reserve") return;
    // A's lease runs out (it is not renewed) and B takes it over, between the reservation and
    // A's signature.
    std::this_thread::sleep_for(kTtl + milliseconds(300));
    b.keeper->RenewOnce();
  });
  ASSERT_TRUE(a.instance);
  ASSERT_TRUE(a.keeper->Active());
  b = MakeNode("node-b");
  ASSERT_TRUE(b.instance);
  EXPECT_FALSE(b.keeper->Active());
  EXPECT_EQ(b.keeper->holder(), "node-a");

  auto key = testing::FreshRsaKey();
  auto request = testing::MakeIssueRequest("r1", kid_, {"pair.example.fr"}, key.get());
  auto snap = policy_->Snapshot();
  ASSERT_TRUE(snap);
  auto refused = a.instance->Issue(request, *snap);
  ASSERT_TRUE(std::holds_alternative<EngineError>(refused));
  EXPECT_EQ(std::get<EngineError>(refused).kind, EngineErrorKind::kUnavailable);
  EXPECT_EQ(std::get<EngineError>(refused).detail,
            "engine standby: no node holds the lease engine-production (this node is node-a)");
  EXPECT_TRUE(b.keeper->Active());
  EXPECT_EQ(b.keeper->epoch(), 2u);

  auto pending = b.instance->store().PendingSerials();
  ASSERT_TRUE(pending) << pending.error().ToString();
  ASSERT_EQ(pending->size(), 1u);
  const std::string serial = pending->front();

  // Every write of A is refused inside the transaction and writes nothing.
  Status write = a.instance->store().Write([](kv::Txn& txn, const StoreDbs& d) -> Status {
    return txn.Put(d.meta, "written-by-a", "x");
  });
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(write.error().message.find("lease lost"), std::string::npos) << write.error().message;
  {
    auto txn = kv::Txn::BeginRead(b.instance->store().env());
    ASSERT_TRUE(txn);
    EXPECT_FALSE(*txn->Get(b.instance->store().dbs().meta, "written-by-a"));
  }

  // B completes it: signed, recorded, its OCSP response published (B's writes pass the fence).
  ASSERT_TRUE(b.instance->TakeOver());
  EXPECT_TRUE(b.instance->store().PendingSerials()->empty());
  auto rec = b.instance->store().FindCert(serial);
  ASSERT_TRUE(rec && *rec);
  EXPECT_EQ((*rec)->state, CertState::kIssued);
  auto cert = ossl::CertFromDer((*rec)->der);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_verify(cert->get(), X509_get0_pubkey(b.instance->issuer_cert())), 1);
  auto ocsp =
      b.instance->status_store().Response(b.instance->issuer_name(), *pki::Serial::FromHex(serial));
  ASSERT_TRUE(ocsp);
  EXPECT_TRUE(ocsp->has_value());

  // A learns it lost the lease; a status job of A signs nothing.
  a.keeper->RenewOnce();
  EXPECT_FALSE(a.keeper->Active());
  EXPECT_EQ(a.keeper->epoch(), 0u);
  EXPECT_EQ(a.keeper->holder(), "node-b");
  EXPECT_FALSE(a.instance->RunStatusJobs());
}

}  // namespace
}  // namespace ca::engine
