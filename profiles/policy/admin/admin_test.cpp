#include "profiles/policy/admin/admin.h"

#include <gtest/gtest.h>

#include "profiles/policy/mac_key.h"
#include "profiles/policy/testing_util.h"

namespace ca::profiles::policy::admin {
namespace {

using testing::TempDir;

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = PolicyWriter::Create(dir_.Sub("p"), "op", 1);
    ASSERT_TRUE(s) << s.error().ToString();
    store_.emplace(std::move(*s));
    auto o = CreateOrganization(Ctx(), {"Org", "FR", "Paris", "1"});
    ASSERT_TRUE(o);
    org_ = o->id;
    ExternalAccountFields f;
    f.organization_id = org_;
    f.contacts = std::vector<std::string>{"Jane"};
    f.allowed_profiles = std::vector<ProfileId>{ProfileId::kSsl};
    auto c = CreateExternalAccount(Ctx(), f, false, wrap_);
    ASSERT_TRUE(c) << c.error().ToString();
    kid_ = c->account.kid;
    mac_ = std::string(c->mac_key.view());
  }
  AdminContext Ctx() { return {&*store_, "op", now_}; }
  PolicySnapshot Snap() { return std::move(*store_->Snapshot()); }

  // Runs a refused operation and checks that nothing changed.
  template <class Fn>
  void ExpectRefused(Fn fn, ErrorCode code, const std::string& message_part) {
    auto before = Snap().ToJson(now_);
    auto r = fn();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_NE(r.error().message.find(message_part), std::string::npos) << r.error().message;
    EXPECT_EQ(Snap().ToJson(now_), before);
  }

  // Runs an operation that repeats the current state: it succeeds and writes nothing (no version,
  // no audit record, no mass revocation).
  template <class Fn>
  void ExpectNoOp(Fn fn) {
    auto before = Snap().ToJson(now_);
    auto r = fn();
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(Snap().ToJson(now_), before);
  }

  TempDir dir_;
  std::optional<PolicyWriter> store_;
  const EVP_PKEY* wrap_ = testing::SoftwareMacWrapKey();
  int64_t now_ = 1'700'000'000;
  std::string org_, kid_, mac_;
};

TEST_F(AdminTest, ExternalAccountLifecycleThroughTheStore) {
  EXPECT_EQ(Snap().FindExternalAccount(kid_)->status, ExternalAccountStatus::kPending);
  ExpectRefused([&] { return ExternalAccountLifecycle(Ctx(), kid_, AccountAction::kSuspend); },
                ErrorCode::kFailedPrecondition, "cannot suspend: the account is pending");
  ASSERT_TRUE(ExternalAccountLifecycle(Ctx(), kid_, AccountAction::kActivate));
  ASSERT_TRUE(ExternalAccountLifecycle(Ctx(), kid_, AccountAction::kSuspend));
  EXPECT_EQ(Snap().FindExternalAccount(kid_)->status, ExternalAccountStatus::kSuspended);
  ASSERT_TRUE(ExternalAccountLifecycle(Ctx(), kid_, AccountAction::kReactivate));
  ASSERT_TRUE(ExternalAccountLifecycle(Ctx(), kid_, AccountAction::kDeactivate));
  ExpectRefused([&] { return ExternalAccountLifecycle(Ctx(), kid_, AccountAction::kReactivate); },
                ErrorCode::kFailedPrecondition, "deactivated (final)");
  EXPECT_TRUE(Snap().MassRevocations().empty());
  ASSERT_TRUE(ExternalAccountLifecycle(Ctx(), kid_, AccountAction::kRevoke, 5));
  auto revs = Snap().MassRevocations();
  ASSERT_EQ(revs.size(), 1u);
  EXPECT_EQ(revs[0].external_account_kid, kid_);
  EXPECT_EQ(revs[0].acme_account_id, "");
  EXPECT_EQ(revs[0].reason, 5);
  EXPECT_EQ(revs[0].reason_name, "cessationOfOperation");
  EXPECT_EQ(revs[0].policy_version, Snap().version());
  EXPECT_EQ(revs[0].actor, "op");
  EXPECT_EQ(revs[0].recorded_at, now_);
  EXPECT_TRUE(Snap().MassRevocations(revs[0].seq).empty());
  ExpectNoOp([&] { return ExternalAccountLifecycle(Ctx(), kid_, AccountAction::kRevoke); });
  ExpectRefused([&] { return RegenerateMacKey(Ctx(), kid_, wrap_); },
                ErrorCode::kFailedPrecondition, "revoked (final)");
  ExpectRefused([&] { return ExternalAccountLifecycle(Ctx(), "nope", AccountAction::kSuspend); },
                ErrorCode::kNotFound, "unknown external account nope");
  // Every transition was audited with before/after.
  auto audit = Snap().Audit({kid_, "", std::nullopt, std::nullopt});
  std::vector<std::string> actions;
  for (const auto& r : audit) actions.push_back(r.action);
  EXPECT_EQ(actions, (std::vector<std::string>{"ext-account.create", "ext-account.activate",
                                               "ext-account.suspend", "ext-account.reactivate",
                                               "ext-account.deactivate", "ext-account.revoke"}));
  EXPECT_EQ(audit.back().before["status"], "deactivated");
  EXPECT_EQ(audit.back().after["status"], "revoked");
  EXPECT_EQ(audit.back().after["mass_revocation"]["reason"], 5);
}

TEST_F(AdminTest, AcmeAccountLifecycleAndRevocationRecord) {
  AcmeAccountRef ref{"acme-1", kid_, ProfileId::kSsl};
  EXPECT_FALSE(Snap().FindAcmeAccountPolicy("acme-1"));
  ExpectNoOp([&] { return AcmeAccountLifecycle(Ctx(), ref, AccountAction::kReactivate); });
  ASSERT_TRUE(AcmeAccountLifecycle(Ctx(), ref, AccountAction::kSuspend));
  ExpectNoOp([&] { return AcmeAccountLifecycle(Ctx(), ref, AccountAction::kSuspend); });
  EXPECT_EQ(Snap().FindAcmeAccountPolicy("acme-1")->status, AcmeAccountStatus::kSuspended);
  ASSERT_TRUE(AcmeAccountLifecycle(Ctx(), ref, AccountAction::kRevoke, 1));
  auto revs = Snap().MassRevocations();
  ASSERT_EQ(revs.size(), 1u);
  EXPECT_EQ(revs[0].acme_account_id, "acme-1");
  EXPECT_EQ(revs[0].external_account_kid, kid_);
  EXPECT_EQ(revs[0].reason_name, "keyCompromise");
  ExpectRefused([&] { return AcmeAccountLifecycle(Ctx(), ref, AccountAction::kReactivate); },
                ErrorCode::kFailedPrecondition, "revoked (final)");
  ExpectRefused([&] { return SetAcmeAccountProfile(Ctx(), ref, ProfileId::kSsl); },
                ErrorCode::kFailedPrecondition, "revoked (final)");
}

TEST_F(AdminTest, AcmeAccountRestrictions) {
  AcmeAccountRef ref{"acme-2", kid_, ProfileId::kSsl};
  ExpectRefused([&] { return SetAcmeAccountProfile(Ctx(), ref, ProfileId::kWild); },
                ErrorCode::kInvalidArgument, "not allowed for external account");
  ASSERT_TRUE(AddDomain(Ctx(), kid_, "a.example.com", {}));
  ExpectRefused([&] { return SetAcmeAccountDomains(Ctx(), ref, {"b.example.com"}); },
                ErrorCode::kNotFound, "not listed");
  auto p = SetAcmeAccountDomains(Ctx(), ref, {"A.example.com", "a.example.com"});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->domains, std::vector<std::string>{"a.example.com"});
  EXPECT_EQ(Snap().FindAcmeAccountPolicy("acme-2")->domains,
            std::vector<std::string>{"a.example.com"});
}

TEST_F(AdminTest, ValidityAtMostThreeYears) {
  ExternalAccountFields f;
  f.not_before = now_;
  f.not_after = AddYears(now_, 3);
  ASSERT_TRUE(UpdateExternalAccount(Ctx(), kid_, f));
  EXPECT_EQ(Snap().FindExternalAccount(kid_)->not_after, AddYears(now_, 3));
  f.not_after = AddYears(now_, 3) + 1;
  ExpectRefused([&] { return UpdateExternalAccount(Ctx(), kid_, f); }, ErrorCode::kInvalidArgument,
                "longer than 3 years");
  f.not_after = now_;
  ExpectRefused([&] { return UpdateExternalAccount(Ctx(), kid_, f); }, ErrorCode::kInvalidArgument,
                "after not_before");
  ExternalAccountFields none;
  none.organization_id = "missing";
  none.contacts = std::vector<std::string>{"x"};
  ExpectRefused([&] { return CreateExternalAccount(Ctx(), none, true, wrap_); },
                ErrorCode::kNotFound, "unknown organization");
  ExternalAccountFields nobody;
  nobody.organization_id = org_;
  ExpectRefused([&] { return CreateExternalAccount(Ctx(), nobody, true, wrap_); },
                ErrorCode::kInvalidArgument, "named contact");
}

TEST_F(AdminTest, DomainRules) {
  ExpectRefused([&] { return AddDomain(Ctx(), kid_, "*.example.com", {}); },
                ErrorCode::kInvalidArgument, "needs the WILD profile");
  ExternalAccountFields f;
  f.allowed_profiles = std::vector<ProfileId>{ProfileId::kSsl, ProfileId::kWild};
  ASSERT_TRUE(UpdateExternalAccount(Ctx(), kid_, f));
  DomainFields http;
  http.dcv_methods = {"http-01"};
  ExpectRefused([&] { return AddDomain(Ctx(), kid_, "*.example.com", http); },
                ErrorCode::kInvalidArgument, "only be validated with dns-01");
  auto w = AddDomain(Ctx(), kid_, "*.Example.com", {});
  ASSERT_TRUE(w);
  EXPECT_EQ(w->fqdn, "*.example.com");
  EXPECT_EQ(w->dcv_methods, std::vector<std::string>{"dns-01"});
  DomainFields alpn;
  alpn.dcv_methods = {"tls-alpn-01"};
  ExpectRefused([&] { return AddDomain(Ctx(), kid_, "x.example.com", alpn); },
                ErrorCode::kInvalidArgument, "not allowed for external account");
  ExpectRefused([&] { return AddDomain(Ctx(), kid_, "bad_name.example.com", {}); },
                ErrorCode::kInvalidArgument, "invalid domain name");
  ASSERT_TRUE(AddDomain(Ctx(), kid_, "x.example.com", {}));
  ExpectRefused([&] { return AddDomain(Ctx(), kid_, "X.example.com.", {}); },
                ErrorCode::kAlreadyExists, "already listed");
  ASSERT_TRUE(SetDomainStatus(Ctx(), kid_, "x.example.com", DomainStatus::kInvalid));
  ExpectRefused([&] { return SetDomainStatus(Ctx(), kid_, "x.example.com", DomainStatus::kValid); },
                ErrorCode::kFailedPrecondition, "invalid, which is final");
  ASSERT_TRUE(RemoveDomain(Ctx(), kid_, "x.example.com"));
  EXPECT_FALSE(Snap().FindDomain(kid_, "x.example.com"));
  ExpectRefused([&] { return RemoveDomain(Ctx(), kid_, "x.example.com"); }, ErrorCode::kNotFound,
                "not listed");
}

TEST_F(AdminTest, RegenerateMacInvalidatesTheOldKey) {
  auto unwrap = [](const ExternalAccount& a) {
    return std::string(testing::SoftwareUnwrap(ParseHsmWrappedMac(a.mac_wrapped)->wrapped).view());
  };
  auto before = Snap().FindExternalAccount(kid_);
  ASSERT_FALSE(IsLegacyWrappedMac(*before));
  ASSERT_EQ(unwrap(*before), mac_);
  auto c = RegenerateMacKey(Ctx(), kid_, wrap_);
  ASSERT_TRUE(c);
  EXPECT_NE(std::string(c->mac_key.view()), mac_);
  auto after = Snap().FindExternalAccount(kid_);
  EXPECT_EQ(after->mac_regenerations, 1u);
  EXPECT_EQ(unwrap(*after), c->mac_key.view());
  EXPECT_NE(unwrap(*after), mac_);
}

TEST_F(AdminTest, OrganizationUpdatesAndStatus) {
  ExpectRefused(
      [&] {
        return UpdateOrganization(Ctx(), org_, {std::nullopt, "F1", std::nullopt, std::nullopt});
      },
      ErrorCode::kInvalidArgument, "two letters");
  ExpectRefused(
      [&] {
        return UpdateOrganization(Ctx(), org_,
                                  {std::string(65, 'n'), std::nullopt, std::nullopt, std::nullopt});
      },
      ErrorCode::kInvalidArgument, "longer than 64");
  auto o = UpdateOrganization(Ctx(), org_, {"New name", std::nullopt, "Lyon", std::nullopt});
  ASSERT_TRUE(o);
  EXPECT_EQ(Snap().FindOrganization(org_)->name, "New name");
  EXPECT_EQ(Snap().FindOrganization(org_)->locality, "Lyon");
  ASSERT_TRUE(SetOrganizationStatus(Ctx(), org_, OrgStatus::kValid));
  ExpectNoOp([&] { return SetOrganizationStatus(Ctx(), org_, OrgStatus::kValid); });
  auto audit = Snap().Audit({org_, "", std::nullopt, std::nullopt});
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[1].before["name"], "Org");
  EXPECT_EQ(audit[1].after["name"], "New name");
}

TEST_F(AdminTest, RepeatedStateChangesAreNoOps) {
  ASSERT_TRUE(ExternalAccountLifecycle(Ctx(), kid_, AccountAction::kActivate));
  ExpectNoOp([&] { return ExternalAccountLifecycle(Ctx(), kid_, AccountAction::kActivate); });
  ASSERT_TRUE(ExternalAccountLifecycle(Ctx(), kid_, AccountAction::kSuspend));
  ExpectNoOp([&] { return ExternalAccountLifecycle(Ctx(), kid_, AccountAction::kSuspend); });
  ASSERT_TRUE(SetOrganizationStatus(Ctx(), org_, OrgStatus::kValid));
  ExpectNoOp([&] { return SetOrganizationStatus(Ctx(), org_, OrgStatus::kValid); });
  ASSERT_TRUE(AddDomain(Ctx(), kid_, "example.com", {}));
  ASSERT_TRUE(SetDomainStatus(Ctx(), kid_, "example.com", DomainStatus::kValid));
  ExpectNoOp([&] { return SetDomainStatus(Ctx(), kid_, "example.com", DomainStatus::kValid); });
}

TEST_F(AdminTest, OneOrganizationPerRegistrationId) {
  ExpectRefused(
      [&] {
        return CreateOrganization(Ctx(), {"Org bis", "FR", "Lyon", "1"});
      },
      ErrorCode::kAlreadyExists, "already has registration id 1 in FR");
  ASSERT_TRUE(CreateOrganization(Ctx(), {"Org DE", "DE", "Berlin", "1"}));  // another register
  auto other = CreateOrganization(Ctx(), {"Other", "FR", "Paris", "2"});
  ASSERT_TRUE(other);
  ExpectRefused(
      [&] {
        return UpdateOrganization(Ctx(), other->id,
                                  {std::nullopt, std::nullopt, std::nullopt, "1"});
      },
      ErrorCode::kAlreadyExists, "already has registration id 1");
}

TEST_F(AdminTest, RevokeOneCertificateRecordsItsSerial) {
  ExpectRefused(
      [&] {
        return RevokeCertificate(Ctx(), {"0A11", "acme-1", kid_}, 4);
      },
      ErrorCode::kInvalidArgument, "not a canonical serial");
  auto m = RevokeCertificate(Ctx(), {"0a11", "acme-1", kid_}, 4);
  ASSERT_TRUE(m) << m.error().ToString();
  auto revs = Snap().MassRevocations();
  ASSERT_EQ(revs.size(), 1u);
  EXPECT_EQ(revs[0].serial_hex, "0a11");
  EXPECT_EQ(revs[0].acme_account_id, "acme-1");
  EXPECT_EQ(revs[0].reason_name, "superseded");
  EXPECT_EQ(Snap().Audit({kid_, "", std::nullopt, std::nullopt}).back().action,
            "certificate.revoke");
}

}  // namespace
}  // namespace ca::profiles::policy::admin

namespace ca::profiles::policy::admin {
namespace {

TEST_F(AdminTest, LegacyFileWrappedKeysMigrateToTheHsmAndKeepWorking) {
  // An account as the RA wrote it before issue 18: AES-GCM under the wrapping-key file.
  Secret legacy(std::string(32, 'w'));
  Secret old_mac = GenerateMacKey();
  auto w = store_->BeginWrite("old-ra", now_);
  ASSERT_TRUE(w);
  ExternalAccount a = *Snap().FindExternalAccount(kid_);
  a.mac_wrapped = *WrapMacKey(kid_, old_mac, legacy);
  ASSERT_TRUE(w->PutExternalAccount(a));
  ASSERT_TRUE(w->Audit("legacy", "external_account", kid_, kid_, "", nullptr, nullptr));
  ASSERT_TRUE(w->Commit());
  ASSERT_TRUE(IsLegacyWrappedMac(*Snap().FindExternalAccount(kid_)));

  Secret wrong(std::string(32, 'x'));
  ExpectRefused([&] { return MigrateMacKeysToHsm(Ctx(), wrong, wrap_); }, ErrorCode::kCrypto,
                "does not authenticate");
  auto n = MigrateMacKeysToHsm(Ctx(), legacy, wrap_);
  ASSERT_TRUE(n) << n.error().ToString();
  EXPECT_EQ(*n, 1u);
  auto after = *Snap().FindExternalAccount(kid_);
  ASSERT_FALSE(IsLegacyWrappedMac(after));
  // The same MAC key: the requester's EAB credentials keep working.
  EXPECT_EQ(testing::SoftwareUnwrap(ParseHsmWrappedMac(after.mac_wrapped)->wrapped).view(),
            old_mac.view());
  // Run again: nothing to do, nothing written.
  ExpectNoOp([&] { return MigrateMacKeysToHsm(Ctx(), legacy, wrap_); });
}

}  // namespace
}  // namespace ca::profiles::policy::admin
