// Issue 15: a finalize is idempotent per order. A retry for the same order (another CSR, another
// policy version, another request_id) returns the certificate already signed for that order; one
// order never yields two certificates.
#include "engine/issuance_key.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>

#include "engine/ca_instance.h"
#include "engine/testing/engine_fixture.h"
#include "profiles/policy/store.h"

namespace ca::engine {
namespace {

using engine::api::EngineError;
using engine::api::IssueResponse;
using testing::FreshRsaKey;
using testing::MakeIssueRequest;

TEST(IssuanceKey, PerOrderWhenTheOrderIsKnown) {
  EXPECT_EQ(IssuanceKeyOf("o1", "r1").key, "order\no1");
  EXPECT_TRUE(IssuanceKeyOf("o1", "r1").per_order);
  EXPECT_EQ(IssuanceKeyOf("", "r1").key, "r1");
  EXPECT_FALSE(IssuanceKeyOf("", "r1").per_order);
}

class PerOrderIssueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    world_ = testing::MakePolicyWorld(dir_.Sub("policy"));
    Open(nullptr);
  }
  void Open(CrashHook hook) {
    inst_.reset();
    auto inst = CaInstance::Open(testing::MakeInstanceOptions(dir_), testing::MakeSoftwareKeys(),
                                 std::move(hook));
    ASSERT_TRUE(inst) << inst.error().ToString();
    inst_ = std::move(*inst);
  }
  engine::api::Response Issue(const engine::api::IssueRequest& r) {
    auto snap = world_.store->Snapshot();
    EXPECT_TRUE(snap);
    return inst_->Issue(r, *snap);
  }
  std::string Serial(const engine::api::Response& r) {
    if (auto* e = std::get_if<EngineError>(&r)) ADD_FAILURE() << e->detail;
    auto* issued = std::get_if<IssueResponse>(&r);
    return issued ? issued->serial_hex : "";
  }
  size_t Certificates() {
    auto txn = kv::Txn::BeginRead(inst_->store().env());
    size_t n = 0;
    EXPECT_TRUE(
        txn->ForEach(inst_->store().dbs().certs, "", [&](std::string_view, std::string_view) {
          ++n;
          return true;
        }));
    return n;
  }

  testing::TempDir dir_;
  testing::PolicyWorld world_;
  std::unique_ptr<CaInstance> inst_;
};

TEST_F(PerOrderIssueTest, RetryWithAnotherCsrAndPolicyVersionReturnsTheFirstCertificate) {
  auto key1 = FreshRsaKey();
  auto key2 = FreshRsaKey();
  auto first = MakeIssueRequest("r1", world_.kid, {"a.example.fr"}, key1.get());
  std::string serial = Serial(Issue(first));
  ASSERT_FALSE(serial.empty());

  auto retry = MakeIssueRequest("r1", world_.kid, {"a.example.fr"}, key2.get());  // another CSR
  retry.policy_version = 7;  // after an RA edit
  EXPECT_EQ(Serial(Issue(retry)), serial);
  retry.request_id = "r2";  // even another request_id: the order decides
  EXPECT_EQ(Serial(Issue(retry)), serial);
  EXPECT_EQ(Certificates(), 1u);

  // After a restart too (the key is durable).
  Open(nullptr);
  EXPECT_EQ(Serial(Issue(retry)), serial);
  EXPECT_EQ(Certificates(), 1u);
}

TEST_F(PerOrderIssueTest, ConcurrentRetriesOfOneOrderShareOneCertificate) {
  std::vector<ossl::Pkey> keys;
  for (int i = 0; i < 4; ++i) keys.push_back(FreshRsaKey());
  std::vector<std::future<std::string>> serials;
  for (int i = 0; i < 4; ++i) {
    auto req =
        MakeIssueRequest("r" + std::to_string(i), world_.kid, {"b.example.fr"}, keys[i].get());
    req.order_id = "one-order";
    serials.push_back(std::async(std::launch::async, [this, req] { return Serial(Issue(req)); }));
  }
  std::string first = serials[0].get();
  ASSERT_FALSE(first.empty());
  for (size_t i = 1; i < serials.size(); ++i) EXPECT_EQ(serials[i].get(), first);
  EXPECT_EQ(Certificates(), 1u);
}

// The first attempt dies (SIGKILL, in a child, as in CaInstanceCrash) between the durable
// reservation and the signature; a retry of the order with another CSR gets that reservation,
// signed, and no second certificate.
TEST(PerOrderIssueCrash, ReservationLeftBySigningCrashIsReturnedToTheRetry) {
  testing::TempDir dir;
  std::string kid;
  { kid = testing::MakePolicyWorld(dir.Sub("policy")).kid; }
  auto key1 = FreshRsaKey();
  auto key2 = FreshRsaKey();
  auto first = MakeIssueRequest("r1", kid, {"c.example.fr"}, key1.get());
  auto options = testing::MakeInstanceOptions(dir);
  auto child_keys = testing::MakeSoftwareKeys();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto policy = profiles::policy::PolicyStore::OpenReadOnly(dir.Sub("policy"));
    if (!policy) ::_exit(3);
    auto inst = CaInstance::Open(options, std::move(child_keys), [](std::string_view step) {
      if (step == "after_reserve") ::raise(SIGKILL);
    });
    if (!inst) ::_exit(4);
    auto snap = policy->Snapshot();
    (void)(*inst)->Issue(first, *snap);
    ::_exit(5);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exit " << WEXITSTATUS(wstatus);

  auto inst = CaInstance::Open(options, testing::MakeSoftwareKeys(), nullptr);  // completes it
  ASSERT_TRUE(inst) << inst.error().ToString();
  auto policy = profiles::policy::PolicyStore::OpenReadOnly(dir.Sub("policy"));
  ASSERT_TRUE(policy);
  auto snap = policy->Snapshot();
  ASSERT_TRUE(snap);
  auto retry = MakeIssueRequest("r1-again", kid, {"c.example.fr"}, key2.get());
  retry.order_id = first.order_id;
  auto answer = (*inst)->Issue(retry, *snap);
  ASSERT_TRUE(std::holds_alternative<IssueResponse>(answer))
      << std::get<EngineError>(answer).detail;
  const std::string& serial = std::get<IssueResponse>(answer).serial_hex;
  auto rec = (*inst)->store().FindCert(serial);
  ASSERT_TRUE(rec && *rec);
  EXPECT_EQ((*rec)->state, CertState::kIssued);
  EXPECT_EQ((*rec)->order_id, first.order_id);
  EXPECT_EQ((*rec)->request_id, "r1");  // the first attempt's reservation, not a new one
  EXPECT_TRUE((*inst)->store().PendingSerials()->empty());
}

TEST_F(PerOrderIssueTest, AnotherOrderIsIssuedItsOwnCertificate) {
  auto key1 = FreshRsaKey();
  auto key2 = FreshRsaKey();
  std::string a = Serial(Issue(MakeIssueRequest("ra", world_.kid, {"d.example.fr"}, key1.get())));
  std::string b = Serial(Issue(MakeIssueRequest("rb", world_.kid, {"d.example.fr"}, key2.get())));
  EXPECT_NE(a, b);
  EXPECT_EQ(Certificates(), 2u);
}

}  // namespace
}  // namespace ca::engine
