// The engine pair (issue 20) without PostgreSQL: the instance's lease keeper runs on the in-memory
// lease table (engine/testing/fake_lease_table.h) and a clock the test moves; the stores are LMDB
// (no fence: the fence is PostgreSQL's, kv/postgres). What is checked here is the engine's side:
// the standby answers every request "engine standby: ...", signs nothing and runs no job; a
// signature refused for a lost lease leaves the reservation pending; the node that becomes active
// reconciles it (the same completion as at start-up) and publishes.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "engine/engine.h"
#include "engine/lease_keeper.h"
#include "engine/testing/engine_fixture.h"
#include "engine/testing/fake_lease_table.h"

namespace ca::engine {
namespace {

using engine::api::CaEnvironment;
using engine::api::EngineError;
using engine::api::EngineErrorKind;
using engine::api::IssueResponse;
using std::chrono::milliseconds;
using std::chrono::seconds;

class EnginePairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kid_ = testing::MakePolicyWorld(dir_.Sub("policy")).kid;
    table_.clock = [this] { return Now(); };
    a_ = Keeper("node-a");
    b_ = Keeper("node-b");
  }
  std::chrono::steady_clock::time_point Now() const {
    return std::chrono::steady_clock::now() + std::chrono::nanoseconds(skew_ns_.load());
  }
  std::unique_ptr<LeaseKeeper> Keeper(const std::string& node) {
    return std::make_unique<LeaseKeeper>(LeaseKeeperOptions{"engine-production", node, seconds(10)},
                                         table_.Ops(), [this] { return Now(); });
  }
  void Skew(std::chrono::nanoseconds by) { skew_ns_ += by.count(); }
  // Node b's instance; `hook` runs at the pipeline's crash steps.
  std::unique_ptr<CaInstance> OpenInstance(CrashHook hook = nullptr) {
    auto opt = testing::MakeInstanceOptions(dir_);
    opt.lease = b_.get();
    auto inst = CaInstance::Open(opt, testing::MakeSoftwareKeys(), std::move(hook));
    EXPECT_TRUE(inst) << inst.error().ToString();
    return inst ? std::move(*inst) : nullptr;
  }
  profiles::policy::PolicySnapshot Snapshot() {
    if (!policy_)
      policy_ = std::make_unique<profiles::policy::PolicyStore>(
          *profiles::policy::PolicyStore::OpenReadOnly(dir_.Sub("policy")));
    auto snap = policy_->Snapshot();
    EXPECT_TRUE(snap);
    return std::move(*snap);
  }
  engine::api::IssueRequest Request(const std::string& id, const std::string& name) {
    keys_.push_back(testing::FreshRsaKey());
    return testing::MakeIssueRequest(id, kid_, {name}, keys_.back().get());
  }
  static void ExpectStandby(const engine::api::Response& r, const std::string& detail) {
    ASSERT_TRUE(std::holds_alternative<EngineError>(r));
    const auto& e = std::get<EngineError>(r);
    EXPECT_EQ(e.kind, EngineErrorKind::kUnavailable);
    EXPECT_EQ(e.result_code, "ACME_CA_ERROR");
    EXPECT_EQ(e.detail, detail);
  }

  testing::TempDir dir_;
  std::string kid_;
  std::atomic<int64_t> skew_ns_{0};
  testing::FakeLeaseTable table_;
  std::unique_ptr<LeaseKeeper> a_, b_;
  std::unique_ptr<profiles::policy::PolicyStore> policy_;
  std::vector<ossl::Pkey> keys_;
};

TEST_F(EnginePairTest, StandbyAnswersEveryRequestNamingTheHolderAndWritesNothing) {
  a_->RenewOnce();
  b_->RenewOnce();
  ASSERT_TRUE(a_->Active());
  ASSERT_FALSE(b_->Active());
  auto inst = OpenInstance();
  auto policy = profiles::policy::PolicyStore::OpenReadOnly(dir_.Sub("policy"));
  ASSERT_TRUE(policy);
  std::map<CaEnvironment, std::unique_ptr<CaInstance>> instances;
  CaInstance* raw = inst.get();
  instances[CaEnvironment::kProduction] = std::move(inst);
  auto eng = Engine::Open(std::move(*policy), std::move(instances));
  ASSERT_TRUE(eng);
  const std::string detail = "engine standby: node-a holds the lease engine-production";
  ExpectStandby((*eng)->Handle(Request("r1", "a.example.fr"), {}), detail);
  ExpectStandby(
      (*eng)->Handle(engine::api::GetCertificateRequest{"01", CaEnvironment::kProduction}, {}),
      detail);
  ExpectStandby(
      (*eng)->Handle(engine::api::RevokeRequest{"01", pki::RevocationReason::kUnspecified, "acct",
                                                false, CaEnvironment::kProduction},
                     {}),
      detail);
  ExpectStandby((*eng)->Handle(engine::api::VerifyExternalAccountBindingRequest{}, {}), detail);
  EXPECT_TRUE(raw->store().PendingSerials()->empty());
  auto found = raw->store().FindRequest("r1");
  ASSERT_TRUE(found);
  EXPECT_FALSE(*found);
  // Its status jobs sign nothing, not even a CRL number is spent.
  EXPECT_FALSE(raw->RunStatusJobs());
  EXPECT_EQ(*raw->status_store().LastReservedCrlNumber(raw->issuer_name()), 0u);
  EXPECT_FALSE(*raw->status_store().CurrentCrl(raw->issuer_name()));
}

// The lease lapses between the durable reservation and the signature: the signature is refused,
// the reservation stays pending; the engine thread, once the node is active again, completes it
// (TakeOver) and runs the status jobs, and a retry of the request gets that certificate.
TEST_F(EnginePairTest, ReservationLeftByALostLeaseIsCompletedByTheNextActiveEngine) {
  b_->RenewOnce();
  ASSERT_TRUE(b_->Active());
  auto inst = OpenInstance([this](std::string_view step) {
    if (step == "after_reserve") Skew(seconds(11));  // past b's deadline and the server's expiry
  });
  CaInstance* raw = inst.get();
  auto request = Request("r1", "lapse.example.fr");
  auto refused = raw->Issue(request, Snapshot());
  ExpectStandby(refused,
                "engine standby: no node holds the lease engine-production (this node is node-b)");
  auto pending = raw->store().PendingSerials();
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1u);
  const std::string serial = pending->front();
  EXPECT_EQ((*raw->store().FindCert(serial))->state, CertState::kReserved);

  // Node a takes the lease; b learns it at its next renewal.
  a_->RenewOnce();
  b_->RenewOnce();
  EXPECT_EQ(a_->epoch(), 2u);
  EXPECT_EQ(b_->holder(), "node-a");
  EXPECT_EQ(b_->losses(), 1u);

  ASSERT_TRUE(policy_);  // the one open of the policy store in this process goes to the engine
  std::map<CaEnvironment, std::unique_ptr<CaInstance>> instances;
  instances[CaEnvironment::kProduction] = std::move(inst);
  auto eng = Engine::Open(std::move(*policy_), std::move(instances));
  ASSERT_TRUE(eng);
  ASSERT_TRUE((*eng)->StartBackground());
  std::this_thread::sleep_for(milliseconds(1500));  // a tick or more: nothing runs on the standby
  EXPECT_EQ(*raw->store().PendingSerials(), std::vector<std::string>{serial});
  EXPECT_FALSE(*raw->status_store().CurrentCrl(raw->issuer_name()));
  ExpectStandby((*eng)->Handle(request, {}),
                "engine standby: node-a holds the lease engine-production");

  // Node a stops cleanly (releases); b takes over.
  a_->Stop();
  b_->RenewOnce();
  ASSERT_TRUE(b_->Active());
  EXPECT_EQ(b_->epoch(), 3u);
  EXPECT_EQ(b_->activations(), 2u);
  bool done = false;
  for (int i = 0; i < 50 && !done; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    auto rec = raw->store().FindCert(serial);
    done = rec && *rec && (*rec)->state == CertState::kIssued &&
           raw->status_store().CurrentCrl(raw->issuer_name()).value_or(std::nullopt).has_value();
  }
  ASSERT_TRUE(done) << "the takeover did not complete the reservation and publish a CRL";
  EXPECT_TRUE(raw->store().PendingSerials()->empty());
  auto rec = *raw->store().FindCert(serial);
  auto cert = ossl::CertFromDer(rec->der);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_verify(cert->get(), X509_get0_pubkey(raw->issuer_cert())), 1);
  auto ocsp = raw->status_store().Response(raw->issuer_name(), *pki::Serial::FromHex(serial));
  EXPECT_TRUE(ocsp && ocsp->has_value());
  // The client's retry of the order gets that one certificate.
  auto retried = (*eng)->Handle(request, {});
  ASSERT_TRUE(std::holds_alternative<IssueResponse>(retried))
      << std::get<EngineError>(retried).detail;
  EXPECT_EQ(std::get<IssueResponse>(retried).serial_hex, serial);
  (*eng)->Stop();
}

// A standby opening its instance leaves the pending reservations to the holder (no signature at
// start-up); a single box (no keeper) completes them at open as before.
TEST_F(EnginePairTest, StandbyLeavesPendingReservationsAtOpen) {
  b_->RenewOnce();
  std::string serial;
  {
    auto inst = OpenInstance([this](std::string_view step) {
      if (step == "after_reserve") Skew(seconds(11));
    });
    (void)inst->Issue(Request("r1", "open.example.fr"), Snapshot());
    serial = inst->store().PendingSerials()->front();
  }
  a_->RenewOnce();
  b_->RenewOnce();
  {
    auto inst = OpenInstance();
    EXPECT_EQ(*inst->store().PendingSerials(), std::vector<std::string>{serial});
  }
  auto single =
      CaInstance::Open(testing::MakeInstanceOptions(dir_), testing::MakeSoftwareKeys(), nullptr);
  ASSERT_TRUE(single) << single.error().ToString();
  EXPECT_TRUE((*single)->store().PendingSerials()->empty());
  EXPECT_EQ((*(*single)->store().FindCert(serial))->state, CertState::kIssued);
}

}  // namespace
}  // namespace ca::engine
