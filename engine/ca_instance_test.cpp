#include "engine/ca_instance.h"

#include <gtest/gtest.h>
#include <openssl/ocsp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/encoding.h"
#include "crl_ocsp/ocsp_response.h"
#include "engine/testing/engine_fixture.h"
#include "profiles/policy/admin/admin.h"

namespace ca::engine {
namespace {

using engine::api::CaEnvironment;
using engine::api::EngineError;
using engine::api::EngineErrorKind;
using engine::api::IssueResponse;
using pki::RevocationReason;
using testing::FreshRsaKey;
using testing::MakeIssueRequest;

// Fresh subscriber keys are slow to make: a small pool shared by the tests of this file.
const EVP_PKEY* Key(int i) {
  static std::vector<ossl::Pkey> keys;
  while (static_cast<int>(keys.size()) <= i) keys.push_back(FreshRsaKey());
  return keys[static_cast<size_t>(i)].get();
}

size_t CountRecords(CaStore& store) {
  auto txn = kv::Txn::BeginRead(store.env());
  size_t n = 0;
  EXPECT_TRUE(txn->ForEach(store.dbs().certs, "", [&](std::string_view, std::string_view) {
    ++n;
    return true;
  }));
  return n;
}

class CaInstanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    world_ = testing::MakePolicyWorld(dir_.Sub("policy"));
    OpenInstance();
  }
  void OpenInstance(CrashHook hook = nullptr) {
    inst_.reset();
    auto opt = testing::MakeInstanceOptions(dir_);
    opt.freshness.crl_revocation_delay = std::chrono::seconds(0);
    auto inst = CaInstance::Open(opt, testing::MakeSoftwareKeys(), std::move(hook));
    ASSERT_TRUE(inst) << inst.error().ToString();
    inst_ = std::move(*inst);
  }
  engine::api::Response Issue(const engine::api::IssueRequest& r) {
    auto snap = world_.store->Snapshot();
    EXPECT_TRUE(snap);
    return inst_->Issue(r, *snap);
  }
  profiles::policy::admin::AdminContext Admin() { return {world_.store.get(), "ra:test", world_.now}; }

  testing::TempDir dir_;
  testing::PolicyWorld world_;
  std::unique_ptr<CaInstance> inst_;
};

ossl::X509Ptr ParsePem(const std::string& pem) {
  auto cert = ossl::CertFromPem(pem);
  EXPECT_TRUE(cert);
  return cert ? std::move(*cert) : nullptr;
}

TEST_F(CaInstanceTest, IssuesRecordsAndPublishesOcspGood) {
  auto resp = Issue(MakeIssueRequest("r1", world_.kid, {"www.example.fr", "example.fr"}, Key(0)));
  ASSERT_TRUE(std::holds_alternative<IssueResponse>(resp)) << std::get<EngineError>(resp).detail;
  const auto& issued = std::get<IssueResponse>(resp);
  auto cert = ParsePem(issued.certificate_pem);
  ASSERT_TRUE(cert);
  // Signed by the intermediate, for the CSR's key, with both names and the organization.
  EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(inst_->issuer_cert())), 1);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert.get()), Key(0)), 1);
  char org[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_organizationName, org, sizeof org);
  EXPECT_STREQ(org, "Exemple SA");
  auto sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(sans, nullptr);
  EXPECT_EQ(sk_GENERAL_NAME_num(sans), 2);
  GENERAL_NAMES_free(sans);
  // The chain is the leaf then the intermediate.
  auto chain = ossl::CertsFromPem(issued.chain_pem);
  ASSERT_TRUE(chain);
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ(X509_cmp((*chain)[1].get(), inst_->issuer_cert()), 0);
  // Recorded as issued, key indexed, nothing pending.
  auto rec = inst_->store().FindCert(issued.serial_hex);
  ASSERT_TRUE(rec && *rec);
  EXPECT_EQ((*rec)->state, CertState::kIssued);
  EXPECT_EQ((*rec)->order_id, "order-r1");
  EXPECT_EQ((*rec)->acme_account_id, "acct-1");
  auto fp = ossl::PublicKeyFingerprint(Key(0));
  ASSERT_TRUE(fp);
  EXPECT_TRUE(*inst_->store().KnownKey(HexEncode(*fp)));
  EXPECT_TRUE(inst_->store().PendingSerials()->empty());
  auto der = ossl::CertToDer(cert.get());
  EXPECT_EQ((*rec)->der, *der);
  // The OCSP "good" response is in the status store.
  auto serial = pki::Serial::FromHex(issued.serial_hex);
  ASSERT_TRUE(serial);
  auto ocsp = inst_->status_store().Response(inst_->issuer_name(), *serial);
  ASSERT_TRUE(ocsp && *ocsp);
  const unsigned char* p = (*ocsp)->data();
  ossl::OcspResponse parsed(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>((*ocsp)->size())));
  ASSERT_TRUE(parsed);
  ossl::OcspBasicResp basic(OCSP_response_get1_basic(parsed.get()));
  ASSERT_TRUE(basic);
  int status = -1;
  OCSP_SINGLERESP* single = OCSP_resp_get0(basic.get(), 0);
  status = OCSP_single_get0_status(single, nullptr, nullptr, nullptr, nullptr);
  EXPECT_EQ(status, V_OCSP_CERTSTATUS_GOOD);
}

TEST_F(CaInstanceTest, RetriedRequestReturnsSameCertificateAndReplayIsRefused) {
  auto req = MakeIssueRequest("same-id", world_.kid, {"a.example.fr"}, Key(1));
  auto first = Issue(req);
  ASSERT_TRUE(std::holds_alternative<IssueResponse>(first));
  auto again = Issue(req);
  ASSERT_TRUE(std::holds_alternative<IssueResponse>(again));
  EXPECT_EQ(std::get<IssueResponse>(again).serial_hex, std::get<IssueResponse>(first).serial_hex);
  EXPECT_EQ(std::get<IssueResponse>(again).certificate_pem, std::get<IssueResponse>(first).certificate_pem);

  // Same request_id, another order (a retry of the same order replays instead:
  // issuance_key_test.cpp).
  auto replay = req;
  replay.order_id = "another-order";
  replay.names = {"b.example.fr"};
  auto refused = Issue(replay);
  ASSERT_TRUE(std::holds_alternative<EngineError>(refused));
  EXPECT_EQ(std::get<EngineError>(refused).kind, EngineErrorKind::kBadRequest);
  EXPECT_EQ(std::get<EngineError>(refused).detail, "request_id reused with different content");
  EXPECT_EQ(CountRecords(inst_->store()), 1u);
}

TEST_F(CaInstanceTest, ReusedKeyAndCaKeyAreRefusedWithoutConsumingASerial) {
  ASSERT_TRUE(std::holds_alternative<IssueResponse>(Issue(MakeIssueRequest("k1", world_.kid, {"c.example.fr"}, Key(2)))));
  auto reuse = Issue(MakeIssueRequest("k2", world_.kid, {"d.example.fr"}, Key(2)));
  ASSERT_TRUE(std::holds_alternative<EngineError>(reuse));
  EXPECT_EQ(std::get<EngineError>(reuse).kind, EngineErrorKind::kBadCsr);
  auto ca_key = Issue(MakeIssueRequest("k3", world_.kid, {"d.example.fr"}, testing::MakeSoftwareKeys().issuer_key.get()));
  ASSERT_TRUE(std::holds_alternative<EngineError>(ca_key));
  EXPECT_EQ(std::get<EngineError>(ca_key).kind, EngineErrorKind::kBadCsr);
  // A CSR whose names differ from the order's.
  auto req = MakeIssueRequest("k4", world_.kid, {"e.example.fr"}, Key(3));
  req.names = {"f.example.fr"};
  auto mismatch = Issue(req);
  ASSERT_TRUE(std::holds_alternative<EngineError>(mismatch));
  EXPECT_EQ(std::get<EngineError>(mismatch).kind, EngineErrorKind::kBadCsr);
  EXPECT_EQ(CountRecords(inst_->store()), 1u);
  EXPECT_FALSE(*inst_->store().FindRequest("k2"));
}

struct PolicyCase {
  std::string label;
  std::function<void(const profiles::policy::admin::AdminContext&, const std::string& kid)> setup;
  std::vector<std::string> names;
  std::string profile;
  std::string expected_code;
  std::string expected_name;
  std::string kid_override;
};

TEST_F(CaInstanceTest, PolicyRecheckRefusesWhateverTheGatewaySaid) {
  using profiles::policy::admin::AccountAction;
  profiles::policy::admin::AcmeAccountRef ref{"acct-1", world_.kid, profiles::policy::ProfileId::kSsl};
  std::vector<PolicyCase> cases = {
      {"domain not found", nullptr, {"www.other.fr"}, "SSL", "DOMAIN_NOT_FOUND", "www.other.fr", ""},
      {"wildcard on SSL", nullptr, {"*.example.fr"}, "SSL", "INVALID_PROFILE_FOR_WILDCARD", "*.example.fr", ""},
      {"non-wildcard on WILD",
       [&](const profiles::policy::admin::AdminContext& ctx, const std::string&) {
         ASSERT_TRUE(profiles::policy::admin::SetAcmeAccountProfile(ctx, ref, profiles::policy::ProfileId::kWild));
       },
       {"www.example.fr"}, "WILD", "INVALID_DOMAIN_FOR_WILDCARD_PROFILE", "www.example.fr", ""},
      {"subdomain on SSL_RGS", nullptr, {"x.rgs.example.fr"}, "SSL_RGS", "DOMAIN_NOT_FOUND", "x.rgs.example.fr", ""},
      {"unknown external account", nullptr, {"www.example.fr"}, "SSL", "EXTERNAL_ACCOUNT_NOT_FOUND", "",
       "00000000-0000-4000-8000-000000000000"},
      {"account domain subset",
       [&](const profiles::policy::admin::AdminContext& ctx, const std::string&) {
         ASSERT_TRUE(profiles::policy::admin::SetAcmeAccountDomains(ctx, ref, {"rgs.example.fr"}));
       },
       {"www.example.fr"}, "SSL", "DOMAIN_NOT_ASSOCIATED", "www.example.fr", ""},
      {"expired account",
       [&](const profiles::policy::admin::AdminContext& ctx, const std::string&) {
         auto r = profiles::policy::admin::SetAcmeAccountExpiry(ctx, ref, world_.now - 10);
         ASSERT_TRUE(r) << r.error().ToString();
       },
       {"www.example.fr"}, "SSL", "EXPIRED_ACCOUNT", "", ""},
      {"suspended account",
       [&](const profiles::policy::admin::AdminContext& ctx, const std::string&) {
         ASSERT_TRUE(profiles::policy::admin::AcmeAccountLifecycle(ctx, ref, AccountAction::kSuspend));
       },
       {"www.example.fr"}, "SSL", "SUSPENDED_ACCOUNT", "", ""},
      {"deactivated account",
       [&](const profiles::policy::admin::AdminContext& ctx, const std::string&) {
         ASSERT_TRUE(profiles::policy::admin::AcmeAccountLifecycle(ctx, ref, AccountAction::kDeactivate));
       },
       {"www.example.fr"}, "SSL", "DEACTIVATED_ACCOUNT", "", ""},
      {"revoked account",
       [&](const profiles::policy::admin::AdminContext& ctx, const std::string&) {
         ASSERT_TRUE(profiles::policy::admin::AcmeAccountLifecycle(ctx, ref, AccountAction::kRevoke));
       },
       {"www.example.fr"}, "SSL", "REVOKED_ACCOUNT", "", ""},
      {"suspended external account",
       [&](const profiles::policy::admin::AdminContext& ctx, const std::string& kid) {
         ASSERT_TRUE(profiles::policy::admin::ExternalAccountLifecycle(ctx, kid, AccountAction::kSuspend));
       },
       {"www.example.fr"}, "SSL", "SUSPENDED_EXTERNAL_ACCOUNT", "", ""},
      {"deactivated external account",
       [&](const profiles::policy::admin::AdminContext& ctx, const std::string& kid) {
         ASSERT_TRUE(profiles::policy::admin::ExternalAccountLifecycle(ctx, kid, AccountAction::kDeactivate));
       },
       {"www.example.fr"}, "SSL", "DEACTIVATED_EXTERNAL_ACCOUNT", "", ""},
      {"revoked external account",
       [&](const profiles::policy::admin::AdminContext& ctx, const std::string& kid) {
         ASSERT_TRUE(profiles::policy::admin::ExternalAccountLifecycle(ctx, kid, AccountAction::kRevoke));
       },
       {"www.example.fr"}, "SSL", "REVOKED_EXTERNAL_ACCOUNT", "", ""},
      {"expired external account",
       [&](const profiles::policy::admin::AdminContext& ctx, const std::string& kid) {
         profiles::policy::admin::ExternalAccountFields f;
         f.not_before = world_.now - 2 * 86400;
         f.not_after = world_.now - 86400;
         auto r = profiles::policy::admin::UpdateExternalAccount(ctx, kid, f);
         ASSERT_TRUE(r) << r.error().ToString();
       },
       {"www.example.fr"}, "SSL", "EXPIRED_EXTERNAL_ACCOUNT", "", ""},
      {"invalid organization",
       [&](const profiles::policy::admin::AdminContext& ctx, const std::string&) {
         auto r = profiles::policy::admin::SetOrganizationStatus(ctx, world_.org_id, profiles::policy::OrgStatus::kInvalid);
         ASSERT_TRUE(r) << r.error().ToString();
       },
       {"www.example.fr"}, "SSL", "ORGANIZATION_IS_NOT_VALID", "", ""},
  };
  int i = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    // A fresh world per case: lifecycle actions are irreversible.
    inst_.reset();
    world_.store.reset();
    testing::TempDir case_dir;
    world_ = testing::MakePolicyWorld(case_dir.Sub("policy"));
    ref.external_account_kid = world_.kid;
    OpenInstance();
    if (c.setup) c.setup(Admin(), world_.kid);
    auto req = MakeIssueRequest("p" + std::to_string(i++), c.kid_override.empty() ? world_.kid : c.kid_override,
                                c.names, Key(4), c.profile);
    req.policy_version = 999;  // "the gateway decided OK"
    auto resp = Issue(req);
    ASSERT_TRUE(std::holds_alternative<EngineError>(resp));
    const auto& err = std::get<EngineError>(resp);
    EXPECT_EQ(err.kind, EngineErrorKind::kPolicyDenied) << err.detail;
    EXPECT_EQ(err.result_code, c.expected_code) << err.detail;
    EXPECT_EQ(err.name, c.expected_name);
    EXPECT_EQ(CountRecords(inst_->store()), 0u);
    inst_.reset();
  }
}

TEST_F(CaInstanceTest, RevokeIsIdempotentUpgradesOnlyWhenAskedAndPublishesStatus) {
  auto resp = Issue(MakeIssueRequest("rv", world_.kid, {"rv.example.fr"}, Key(5)));
  ASSERT_TRUE(std::holds_alternative<IssueResponse>(resp));
  std::string serial = std::get<IssueResponse>(resp).serial_hex;
  engine::api::RevokeRequest rr{serial, RevocationReason::kSuperseded, "acme-account:acct-1", false, {}};
  auto r1 = inst_->Revoke(rr);
  ASSERT_TRUE(std::holds_alternative<engine::api::RevokeResponse>(r1));
  EXPECT_TRUE(std::get<engine::api::RevokeResponse>(r1).newly_revoked);
  auto r2 = inst_->Revoke(rr);
  ASSERT_TRUE(std::holds_alternative<engine::api::RevokeResponse>(r2));
  EXPECT_FALSE(std::get<engine::api::RevokeResponse>(r2).newly_revoked);
  EXPECT_EQ(std::get<engine::api::RevokeResponse>(r2).revoked_at, std::get<engine::api::RevokeResponse>(r1).revoked_at);
  rr.reason = RevocationReason::kKeyCompromise;
  auto r3 = inst_->Revoke(rr);
  ASSERT_TRUE(std::holds_alternative<EngineError>(r3));
  EXPECT_EQ(std::get<EngineError>(r3).kind, EngineErrorKind::kAlreadyRevoked);
  rr.allow_key_compromise_upgrade = true;
  auto r4 = inst_->Revoke(rr);
  ASSERT_TRUE(std::holds_alternative<engine::api::RevokeResponse>(r4));
  EXPECT_FALSE(std::get<engine::api::RevokeResponse>(r4).newly_revoked);
  auto rec = inst_->GetCertificate({serial, {}});
  ASSERT_TRUE(std::holds_alternative<engine::api::CertificateRecord>(rec));
  EXPECT_TRUE(std::get<engine::api::CertificateRecord>(rec).revoked);
  EXPECT_EQ(std::get<engine::api::CertificateRecord>(rec).reason, RevocationReason::kKeyCompromise);

  auto unknown = inst_->Revoke({"0badc0de", RevocationReason::kUnspecified, "ra:x", false, {}});
  ASSERT_TRUE(std::holds_alternative<EngineError>(unknown));
  EXPECT_EQ(std::get<EngineError>(unknown).kind, EngineErrorKind::kNotFound);

  // OCSP says revoked (keyCompromise) at once; the CRL job lists it.
  auto s = pki::Serial::FromHex(serial);
  auto ocsp = inst_->status_store().Response(inst_->issuer_name(), *s);
  ASSERT_TRUE(ocsp && *ocsp);
  const unsigned char* p = (*ocsp)->data();
  ossl::OcspResponse parsed(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>((*ocsp)->size())));
  ossl::OcspBasicResp basic(OCSP_response_get1_basic(parsed.get()));
  int reason = -1;
  EXPECT_EQ(OCSP_single_get0_status(OCSP_resp_get0(basic.get(), 0), &reason, nullptr, nullptr, nullptr),
            V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(reason, 1);
  ASSERT_TRUE(inst_->RunStatusJobs());
  auto crl_der = inst_->status_store().CurrentCrl(inst_->issuer_name());
  ASSERT_TRUE(crl_der && *crl_der);
  auto crl = ossl::CrlFromDer(**crl_der);
  ASSERT_TRUE(crl);
  auto asn1 = s->ToAsn1();
  X509_REVOKED* entry = nullptr;
  EXPECT_EQ(X509_CRL_get0_by_serial(crl->get(), &entry, asn1->get()), 1);
  auto first_number = inst_->status_store().LastReservedCrlNumber(inst_->issuer_name());
  // CRL numbers keep increasing across restarts.
  OpenInstance();
  ASSERT_TRUE(inst_->Revoke({serial, RevocationReason::kKeyCompromise, "ra:x", true, {}}).index() == 1);
  auto r5 = inst_->RevokeAll({"acct-1", "", RevocationReason::kPrivilegeWithdrawn, "ra:x", {}});
  ASSERT_TRUE(std::holds_alternative<engine::api::RevokeAllForAccountResponse>(r5));
  EXPECT_EQ(std::get<engine::api::RevokeAllForAccountResponse>(r5).revoked_count, 0u);  // already revoked
  auto resp2 = Issue(MakeIssueRequest("rv2", world_.kid, {"rv2.example.fr"}, Key(6)));
  ASSERT_TRUE(std::holds_alternative<IssueResponse>(resp2));
  auto r6 = inst_->RevokeAll({"", world_.kid, RevocationReason::kPrivilegeWithdrawn, "ra:x", {}});
  EXPECT_EQ(std::get<engine::api::RevokeAllForAccountResponse>(r6).revoked_count, 1u);
  ASSERT_TRUE(inst_->RunStatusJobs());
  auto second_number = inst_->status_store().LastReservedCrlNumber(inst_->issuer_name());
  ASSERT_TRUE(first_number && second_number);
  EXPECT_GT(*second_number, *first_number);
}

TEST_F(CaInstanceTest, MassRevocationsAreAppliedOnceAndRecorded) {
  auto resp = Issue(MakeIssueRequest("m1", world_.kid, {"m1.example.fr"}, Key(7)));
  ASSERT_TRUE(std::holds_alternative<IssueResponse>(resp));
  std::string serial = std::get<IssueResponse>(resp).serial_hex;
  auto revoked = profiles::policy::admin::AcmeAccountLifecycle(Admin(), {"acct-1", world_.kid, profiles::policy::ProfileId::kSsl},
                                              profiles::policy::admin::AccountAction::kRevoke, 4);
  ASSERT_TRUE(revoked) << revoked.error().ToString();
  auto snap = world_.store->Snapshot();
  ASSERT_EQ(snap->MassRevocations().size(), 1u);
  ASSERT_TRUE(inst_->ApplyMassRevocations(*snap));
  auto rec = inst_->store().FindCert(serial);
  EXPECT_TRUE((*rec)->revoked);
  EXPECT_EQ((*rec)->reason, 4);
  EXPECT_EQ((*rec)->revoked_by, "ra:ra:test");
  EXPECT_EQ(*inst_->store().AppliedMassRevocationSeq(), snap->MassRevocations()[0].seq);
  ASSERT_TRUE(inst_->ApplyMassRevocations(*snap));  // nothing new
  EXPECT_EQ(*inst_->store().AppliedMassRevocationSeq(), snap->MassRevocations()[0].seq);
}

// ca-ra cert revoke: a recorded revocation of one serial revokes that certificate only.
TEST_F(CaInstanceTest, RecordedRevocationOfOneSerialRevokesOnlyIt) {
  auto a = Issue(MakeIssueRequest("s1", world_.kid, {"s1.example.fr"}, Key(7)));
  auto b = Issue(MakeIssueRequest("s2", world_.kid, {"s2.example.fr"}, Key(6)));
  ASSERT_TRUE(std::holds_alternative<IssueResponse>(a) && std::holds_alternative<IssueResponse>(b));
  std::string target = std::get<IssueResponse>(a).serial_hex;
  std::string other = std::get<IssueResponse>(b).serial_hex;
  auto recorded =
      profiles::policy::admin::RevokeCertificate(Admin(), {target, "acct-1", world_.kid}, 4);
  ASSERT_TRUE(recorded) << recorded.error().ToString();
  auto snap = world_.store->Snapshot();
  ASSERT_TRUE(inst_->ApplyMassRevocations(*snap));
  EXPECT_TRUE((*inst_->store().FindCert(target))->revoked);
  EXPECT_EQ((*inst_->store().FindCert(target))->reason, 4);
  EXPECT_FALSE((*inst_->store().FindCert(other))->revoked);
}

// A crash at each step of issuance (the child is SIGKILLed by the crash hook) leaves a store
// from which a restart recovers: the reservation is signed and recorded, the same request_id
// then returns that certificate.
TEST(CaInstanceCrash, RecoversFromCrashAtEveryStep) {
  for (std::string_view step : kCrashSteps) {
    SCOPED_TRACE(std::string(step));
    testing::TempDir dir;
    std::string kid;
    { kid = testing::MakePolicyWorld(dir.Sub("policy")).kid; }
    auto keys_for_child = testing::MakeSoftwareKeys();
    const EVP_PKEY* subscriber = Key(8);
    auto req = MakeIssueRequest("crash", kid, {"crash.example.fr"}, subscriber);
    auto opt = testing::MakeInstanceOptions(dir);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto policy = profiles::policy::PolicyStore::OpenReadOnly(dir.Sub("policy"));
      if (!policy) ::_exit(3);
      std::string at(step);
      auto inst = CaInstance::Open(opt, std::move(keys_for_child), [at](std::string_view s) {
        if (s == at) ::raise(SIGKILL);
      });
      if (!inst) ::_exit(4);
      auto snap = policy->Snapshot();
      (void)(*inst)->Issue(req, *snap);
      ::_exit(5);  // the hook did not fire
    }
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exit " << WEXITSTATUS(wstatus);
    EXPECT_EQ(WTERMSIG(wstatus), SIGKILL);

    auto inst = CaInstance::Open(opt, testing::MakeSoftwareKeys(), nullptr);
    ASSERT_TRUE(inst) << inst.error().ToString();
    EXPECT_TRUE((*inst)->store().PendingSerials()->empty());
    auto found = (*inst)->store().FindRequest("crash");
    ASSERT_TRUE(found && *found);
    auto rec = (*inst)->store().FindCert((*found)->second);
    ASSERT_TRUE(rec && *rec);
    EXPECT_EQ((*rec)->state, CertState::kIssued);
    auto cert = ossl::CertFromDer((*rec)->der);
    ASSERT_TRUE(cert);
    EXPECT_EQ(X509_verify(cert->get(), X509_get0_pubkey((*inst)->issuer_cert())), 1);
    auto policy = profiles::policy::PolicyStore::OpenReadOnly(dir.Sub("policy"));
    ASSERT_TRUE(policy);
    auto snap = policy->Snapshot();
    auto again = (*inst)->Issue(req, *snap);
    ASSERT_TRUE(std::holds_alternative<IssueResponse>(again));
    EXPECT_EQ(std::get<IssueResponse>(again).serial_hex, (*rec)->serial_hex);
    EXPECT_EQ(CountRecords((*inst)->store()), 1u);
  }
}

TEST(CaInstanceStaging, StagingCertificatesSayTestAndStayInTheirStore) {
  testing::TempDir dir;
  auto world = testing::MakePolicyWorld(dir.Sub("policy"));
  auto prod = CaInstance::Open(testing::MakeInstanceOptions(dir, CaEnvironment::kProduction),
                               testing::MakeSoftwareKeys(), nullptr);
  auto stag = CaInstance::Open(testing::MakeInstanceOptions(dir, CaEnvironment::kStaging),
                               testing::MakeSoftwareKeys(), nullptr);
  ASSERT_TRUE(prod && stag);
  auto snap = world.store->Snapshot();
  auto req = MakeIssueRequest("st", world.kid, {"st.example.fr"}, Key(9));
  req.environment = CaEnvironment::kStaging;
  auto resp = (*stag)->Issue(req, *snap);
  ASSERT_TRUE(std::holds_alternative<IssueResponse>(resp)) << std::get<EngineError>(resp).detail;
  auto cert = ParsePem(std::get<IssueResponse>(resp).certificate_pem);
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
  EXPECT_EQ(std::string(cn), "TEST st.example.fr");
  auto in_prod = (*prod)->GetCertificate({std::get<IssueResponse>(resp).serial_hex, CaEnvironment::kProduction});
  ASSERT_TRUE(std::holds_alternative<EngineError>(in_prod));
  EXPECT_EQ(std::get<EngineError>(in_prod).kind, EngineErrorKind::kNotFound);
}

}  // namespace
}  // namespace ca::engine
