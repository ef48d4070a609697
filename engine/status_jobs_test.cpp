#include "engine/status_jobs.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "crl_ocsp/publish_guard.h"
#include "engine/ca_instance.h"
#include "engine/testing/engine_fixture.h"

namespace ca::engine {
namespace {

using engine::api::EngineError;
using engine::api::IssueResponse;
using pki::RevocationReason;
using std::chrono::seconds;

TEST(JobBackoffTest, DoublesFromOneSecondUpToTheBound) {
  JobBackoff b(seconds(1), seconds(300));
  MonoTime t{};
  EXPECT_TRUE(b.Ready(t));
  std::vector<int64_t> delays;
  for (int i = 0; i < 12; ++i) delays.push_back(b.Failed(t).count());
  EXPECT_EQ(delays, (std::vector<int64_t>{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300}));
  EXPECT_FALSE(b.Ready(t + seconds(299)));
  EXPECT_TRUE(b.Ready(t + seconds(300)));
  for (int i = 0; i < 100; ++i) EXPECT_LE(b.Failed(t).count(), 300);  // no overflow
  b.Succeeded();
  EXPECT_TRUE(b.Ready(t));
  EXPECT_EQ(b.failures(), 0);
  EXPECT_EQ(b.Failed(t).count(), 1);
}

// A CaInstance whose status jobs read a test clock.
class StatusJobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    world_ = testing::MakePolicyWorld(dir_.Sub("policy"));
    auto opt = testing::MakeInstanceOptions(dir_);
    opt.freshness.crl_revocation_delay = seconds(0);
    // The instance's step hook runs on_step_, so a test can act between two steps of a job.
    auto inst = CaInstance::Open(opt, testing::MakeSoftwareKeys(), [this](std::string_view step) {
      if (on_step_) on_step_(step);
    });
    ASSERT_TRUE(inst) << inst.error().ToString();
    inst_ = std::move(*inst);
    inst_->SetStatusJobClock({[this] { return wall_; }, [this] { return mono_; }});
  }
  std::string Issue(const std::string& id, const std::string& name,
                    const std::string& profile = "SSL") {
    return IssueFull(id, name, profile).serial_hex;
  }
  IssueResponse IssueFull(const std::string& id, const std::string& name,
                          const std::string& profile) {
    keys_.push_back(testing::FreshRsaKey());  // a key is certified once
    auto snap = world_.store->Snapshot();
    EXPECT_TRUE(snap);
    auto r = inst_->Issue(
        testing::MakeIssueRequest(id, world_.kid, {name}, keys_.back().get(), profile), *snap);
    EXPECT_TRUE(std::holds_alternative<IssueResponse>(r));
    return std::holds_alternative<IssueResponse>(r) ? std::get<IssueResponse>(r) : IssueResponse{};
  }
  uint64_t ReservedCrlNumber() {
    auto n = inst_->status_store().LastReservedCrlNumber(inst_->issuer_name());
    EXPECT_TRUE(n);
    return n ? *n : 0;
  }
  crl_ocsp::CrlInfo CurrentCrl() {
    auto der = inst_->status_store().CurrentCrl(inst_->issuer_name());
    EXPECT_TRUE(der && *der);
    auto info = crl_ocsp::InspectCrl(**der, inst_->issuer_cert());
    EXPECT_TRUE(info);
    return info ? *info : crl_ocsp::CrlInfo{};
  }
  bool CrlLists(const std::string& serial_hex) {
    auto der = inst_->status_store().CurrentCrl(inst_->issuer_name());
    EXPECT_TRUE(der && *der);
    if (!der || !*der) return false;
    auto crl = ossl::CrlFromDer(**der);
    EXPECT_TRUE(crl);
    auto serial = pki::Serial::FromHex(serial_hex)->ToAsn1();
    X509_REVOKED* entry = nullptr;
    return crl && serial && X509_CRL_get0_by_serial(crl->get(), &entry, serial->get()) == 1;
  }
  bool HasResponse(const std::string& serial_hex) {
    auto r =
        inst_->status_store().Response(inst_->issuer_name(), *pki::Serial::FromHex(serial_hex));
    return r && r->has_value();
  }

  testing::TempDir dir_;
  testing::PolicyWorld world_;
  std::unique_ptr<CaInstance> inst_;
  std::function<void(std::string_view)> on_step_;
  std::vector<ossl::Pkey> keys_;
  pki::Time real_ = pki::Now();
  pki::Time wall_ = real_;
  MonoTime mono_ = std::chrono::steady_clock::now();
};

// The clock was two hours ahead when the first CRL was published, then stepped back. A revocation
// makes a CRL due: it is refused before a CRL number or a signature is spent, retried with backoff,
// and the OCSP job still runs. Once the clock passes the current CRL's thisUpdate, the next CRL
// takes the next number.
TEST_F(StatusJobsTest, ClockStepBackRefusesCrlWithoutSpendingNumbersAndOcspStaysFresh) {
  wall_ = real_ + std::chrono::hours(2);
  std::string a = Issue("sj-a", "a.example.fr");
  std::string b = Issue("sj-b", "b.example.fr");
  ASSERT_TRUE(inst_->RunStatusJobs());
  EXPECT_EQ(ReservedCrlNumber(), 1u);
  crl_ocsp::CrlInfo first = CurrentCrl();
  EXPECT_EQ(first.number, 1u);

  wall_ = real_ + seconds(40);  // stepped back
  ASSERT_EQ(inst_->Revoke({a, RevocationReason::kKeyCompromise, "ra:test", false, {}}).index(), 1u);
  ASSERT_TRUE(inst_->status_store().DeleteOcspResponses(inst_->issuer_name(),
                                                        std::vector{*pki::Serial::FromHex(b)}));
  ASSERT_FALSE(HasResponse(b));
  mono_ += seconds(61);  // the OCSP scan is due by the monotonic clock

  auto s = inst_->RunStatusJobs();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("behind the current CRL"), std::string::npos)
      << s.error().ToString();
  EXPECT_TRUE(HasResponse(b)) << "the OCSP job must run when the CRL job fails";
  EXPECT_EQ(ReservedCrlNumber(), 1u);
  EXPECT_EQ(inst_->status_jobs().crl.failures(), 1);
  EXPECT_EQ(inst_->status_jobs().crl_refused_clock_behind, 1u);

  // Backing off: no attempt within 1 s, then 2 s, then 4 s.
  EXPECT_TRUE(inst_->RunStatusJobs());
  EXPECT_EQ(inst_->status_jobs().crl_refused_clock_behind, 1u);
  mono_ += seconds(1);
  EXPECT_FALSE(inst_->RunStatusJobs());
  EXPECT_EQ(inst_->status_jobs().crl.failures(), 2);
  mono_ += seconds(1);
  EXPECT_TRUE(inst_->RunStatusJobs());
  mono_ += seconds(1);
  EXPECT_FALSE(inst_->RunStatusJobs());
  EXPECT_EQ(inst_->status_jobs().crl.failures(), 3);
  for (int i = 0; i < 20; ++i) {  // a long outage: at most one attempt per 300 s
    mono_ += seconds(299);
    wall_ += seconds(299);
    (void)inst_->RunStatusJobs();
    mono_ += seconds(1);
    wall_ += seconds(1);
    (void)inst_->RunStatusJobs();
  }
  EXPECT_LE(inst_->status_jobs().crl_refused_clock_behind, 3u + 20u + 9u);
  EXPECT_EQ(ReservedCrlNumber(), 1u);
  EXPECT_EQ(CurrentCrl().number, 1u);

  // The clock passes the current CRL's thisUpdate: the next CRL is number 2 and lists `a`.
  wall_ = first.this_update + seconds(5);
  mono_ += seconds(300);
  ASSERT_TRUE(inst_->RunStatusJobs());
  EXPECT_EQ(inst_->status_jobs().crl.failures(), 0);
  EXPECT_EQ(ReservedCrlNumber(), 2u);
  crl_ocsp::CrlInfo second = CurrentCrl();
  EXPECT_EQ(second.number, 2u);
  EXPECT_GE(second.this_update, first.this_update);
  EXPECT_EQ(second.entries, 1u);
}

// A revocation while the clock is behind the stored response's thisUpdate still replaces the
// `good` response (its thisUpdate is held at the stored one, never earlier).
TEST_F(StatusJobsTest, RevocationAfterClockStepBackReplacesGoodResponse) {
  wall_ = real_ + std::chrono::hours(2);
  std::string a = Issue("sj-c", "c.example.fr");
  ASSERT_TRUE(inst_->RunStatusJobs());
  auto before = inst_->status_store().Response(inst_->issuer_name(), *pki::Serial::FromHex(a));
  ASSERT_TRUE(before && *before);
  auto before_info = crl_ocsp::InspectOcspResponse(**before, inst_->issuer_cert());
  ASSERT_TRUE(before_info);

  wall_ = real_;
  ASSERT_EQ(inst_->Revoke({a, RevocationReason::kKeyCompromise, "ra:test", false, {}}).index(), 1u);
  auto after = inst_->status_store().Response(inst_->issuer_name(), *pki::Serial::FromHex(a));
  ASSERT_TRUE(after && *after);
  auto info = crl_ocsp::InspectOcspResponse(**after, inst_->issuer_cert());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status, crl_ocsp::CertStatus::kRevoked);
  EXPECT_GE(info->this_update, before_info->this_update);
}

// SSL_SHORT (no OCSP, no CRL pointer): issuance signs the certificate and nothing else, the OCSP
// job never signs (nor schedules) a response for it, and its revocation is recorded and listed in
// the full CRL without any OCSP response. An SSL certificate beside it keeps its responses.
TEST_F(StatusJobsTest, ShortLivedCertificateGetsNoOcspResponseButIsListedInTheCrl) {
  IssueResponse issued = IssueFull("sj-short", "svc.example.fr", "SSL_SHORT");
  const std::string& s = issued.serial_hex;
  ASSERT_FALSE(s.empty());
  std::string ssl = Issue("sj-ssl", "www.example.fr");
  auto cert = ossl::CertsFromPem(issued.certificate_pem);
  ASSERT_TRUE(cert && cert->size() == 1u);
  X509* c = cert->front().get();
  EXPECT_EQ(X509_get_ext_by_NID(c, NID_crl_distribution_points, -1), -1);
  ossl::Owned<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free> aia(
      static_cast<AUTHORITY_INFO_ACCESS*>(X509_get_ext_d2i(c, NID_info_access, nullptr, nullptr)));
  ASSERT_TRUE(aia);
  ASSERT_EQ(sk_ACCESS_DESCRIPTION_num(aia.get()), 1);
  EXPECT_EQ(OBJ_obj2nid(sk_ACCESS_DESCRIPTION_value(aia.get(), 0)->method), NID_ad_ca_issuers);
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(c), X509_get0_notAfter(c)), 1);
  EXPECT_EQ(days * 86400 + secs, 6 * 86400 - 1);

  auto record = inst_->store().FindCert(s);
  ASSERT_TRUE(record && *record);
  EXPECT_FALSE((*record)->ocsp);
  EXPECT_FALSE(HasResponse(s));
  EXPECT_TRUE(HasResponse(ssl));

  // The OCSP job (a scan due, then half-life passed for the SSL response) leaves it alone.
  mono_ += seconds(61);
  ASSERT_TRUE(inst_->RunStatusJobs());
  EXPECT_FALSE(HasResponse(s));
  wall_ += std::chrono::days(3);
  mono_ += seconds(61);
  ASSERT_TRUE(inst_->RunStatusJobs());
  EXPECT_FALSE(HasResponse(s));
  EXPECT_EQ(inst_->status_jobs().ocsp.failures(), 0);

  // Revoked: recorded in the CA store, listed in the (full) CRL, still no OCSP response.
  uint64_t crl_before = ReservedCrlNumber();
  ASSERT_EQ(inst_->Revoke({s, RevocationReason::kKeyCompromise, "ra:test", false, {}}).index(), 1u);
  auto revoked = inst_->store().FindCert(s);
  ASSERT_TRUE(revoked && *revoked);
  EXPECT_TRUE((*revoked)->revoked);
  EXPECT_FALSE(HasResponse(s));
  mono_ += seconds(61);
  ASSERT_TRUE(inst_->RunStatusJobs());
  EXPECT_GT(ReservedCrlNumber(), crl_before);
  auto der = inst_->status_store().CurrentCrl(inst_->issuer_name());
  ASSERT_TRUE(der && *der);
  auto crl = ossl::CrlFromDer(**der);
  ASSERT_TRUE(crl) << crl.error().ToString();
  auto serial = pki::Serial::FromHex(s)->ToAsn1();
  ASSERT_TRUE(serial);
  X509_REVOKED* entry = nullptr;
  EXPECT_EQ(X509_CRL_get0_by_serial(crl->get(), &entry, serial->get()), 1);
  EXPECT_FALSE(HasResponse(s));
}

// A revocation is dated before it commits. One that commits after the CRL job read the
// revocations, yet is dated before the job's `now`, is not in that CRL: the CRL stays due for it
// and the next run lists it (it used to wait for the daily CRL).
TEST_F(StatusJobsTest, RevocationCommittedWhileTheCrlIsBuiltMakesTheNextCrlDue) {
  std::string first = Issue("sj-race-1", "a.example.fr");
  std::string late = Issue("sj-race-2", "b.example.fr");
  ASSERT_TRUE(inst_->RunStatusJobs());
  ASSERT_EQ(inst_->Revoke({first, RevocationReason::kKeyCompromise, "ra:test", false, {}}).index(),
            1u);
  bool revoked_late = false;
  on_step_ = [&](std::string_view step) {
    if (step != "crl_revocations_read" || revoked_late) return;
    revoked_late = true;
    EXPECT_EQ(inst_->Revoke({late, RevocationReason::kSuperseded, "ra:test", false, {}}).index(),
              1u);
  };
  wall_ = pki::Now() + seconds(10);  // the job's `now` is after both revocations' dates
  mono_ += seconds(61);
  ASSERT_TRUE(inst_->RunStatusJobs());
  ASSERT_TRUE(revoked_late);
  on_step_ = nullptr;
  EXPECT_TRUE(CrlLists(first));
  EXPECT_FALSE(CrlLists(late));  // read before it committed
  uint64_t number = ReservedCrlNumber();

  mono_ += seconds(61);
  ASSERT_TRUE(inst_->RunStatusJobs());
  EXPECT_GT(ReservedCrlNumber(), number);
  EXPECT_TRUE(CrlLists(late));

  // Listed: nothing is due any more until the daily CRL.
  number = ReservedCrlNumber();
  mono_ += seconds(61);
  wall_ += seconds(61);
  ASSERT_TRUE(inst_->RunStatusJobs());
  EXPECT_EQ(ReservedCrlNumber(), number);
}

}  // namespace
}  // namespace ca::engine
