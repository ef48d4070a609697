#include "reports/expiry_notices.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "pki/time.h"

namespace ca::reports {
namespace {

constexpr int64_t kDay = 86400;

class ExpiryNoticesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("expiry-notices-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    account_.kid = "kid-a";
    account_.organization = "Corp";
    account_.contacts = {"Ops Team <ops@corp.example>", "Demo Operator"};
    history_.kid = "kid-a";
    history_.certificates = {Cert("01", {"a.corp.example"}, now_ - 70 * kDay, now_ + 20 * kDay),
                             Cert("02", {"b.corp.example"}, now_ - 80 * kDay, now_ + 6 * kDay),
                             Cert("03", {"c.corp.example"}, now_ - 10 * kDay, now_ + 80 * kDay)};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  CertificateEntry Cert(std::string serial, std::vector<std::string> names, int64_t nb,
                        int64_t na) {
    CertificateEntry c;
    c.environment = "production";
    c.serial_hex = std::move(serial);
    c.external_account_kid = "kid-a";
    c.profile = "SSL";
    c.names = std::move(names);
    c.not_before = nb;
    c.issued_at = nb;
    c.not_after = na;
    return c;
  }

  // A relay that records what it was given and answers `answer`.
  SendMail Relay(std::vector<mail::Message>& sent, Status answer = Ok()) {
    return [&sent, answer](const mail::Message& m) {
      sent.push_back(m);
      return answer;
    };
  }

  std::filesystem::path dir_;
  int64_t now_ = pki::ToUnix(*pki::ParseRfc3339("2026-12-02T06:00:00Z"));
  AccountSummary account_;
  AccountHistory history_;
};

TEST_F(ExpiryNoticesTest, TheSmallestThresholdReachedIsDue) {
  auto due = DueExpiryNotices(history_, {21, 7}, now_);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].certificate.serial_hex, "01");
  EXPECT_EQ(due[0].threshold_days, 21);
  EXPECT_EQ(due[1].certificate.serial_hex, "02");
  EXPECT_EQ(due[1].threshold_days, 7);
  EXPECT_EQ(due[1].Key().Text(), "production/02/7");
  // Exactly at the threshold counts; one second earlier does not.
  EXPECT_EQ(DueExpiryNotices(history_, {80}, now_).size(), 3u);
  EXPECT_EQ(DueExpiryNotices(history_, {80}, now_ - 1).size(), 2u);
}

TEST_F(ExpiryNoticesTest, RevokedExpiredAndRenewedCertificatesAreNotDue) {
  history_.certificates[0].revoked = true;
  history_.certificates[0].revoked_at = now_ - kDay;
  history_.certificates.push_back(Cert("04", {"b.corp.example"}, now_ - kDay, now_ + 89 * kDay));
  history_.certificates.push_back(Cert("05", {"old.corp.example"}, now_ - 99 * kDay, now_ - kDay));
  EXPECT_TRUE(DueExpiryNotices(history_, {21, 7}, now_).empty());
}

TEST_F(ExpiryNoticesTest, ANoticeIsSentOncePerCertificateAndThreshold) {
  auto state = ReporterState::Open(dir_.string());
  ASSERT_TRUE(state) << state.error().ToString();
  std::vector<mail::Message> sent;
  auto first = RunExpiryNotices(*state, account_, history_, {21, 7}, Relay(sent), now_);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->result, NoticeResult::kSent);
  ASSERT_EQ(sent.size(), 1u);  // one mail for the account, both certificates listed
  EXPECT_EQ(sent[0].to, std::vector<std::string>{"ops@corp.example"});
  EXPECT_NE(sent[0].html.find("a.corp.example"), std::string::npos);
  EXPECT_NE(sent[0].html.find("b.corp.example"), std::string::npos);
  EXPECT_EQ(sent[0].html.find("c.corp.example"), std::string::npos);
  EXPECT_TRUE(mail::CheckMessage(sent[0]));
  EXPECT_EQ(*state->Notice({"production", "01", 21}), NoticeMark::kSent);
  // The next day: nothing new.
  auto second = RunExpiryNotices(*state, account_, history_, {21, 7}, Relay(sent), now_ + kDay);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->result, NoticeResult::kNothingDue);
  EXPECT_EQ(sent.size(), 1u);
  // 14 days later certificate 01 reaches 7 days: a second threshold, a second notice.
  auto third = RunExpiryNotices(*state, account_, history_, {21, 7}, Relay(sent), now_ + 14 * kDay);
  ASSERT_TRUE(third);
  ASSERT_EQ(third->notified.size(), 1u);
  EXPECT_EQ(third->notified[0].Key().Text(), "production/01/7");
  EXPECT_EQ(sent.size(), 2u);
}

TEST_F(ExpiryNoticesTest, AFailedSendIsRetriedAPendingOneIsNot) {
  auto state = ReporterState::Open(dir_.string());
  ASSERT_TRUE(state);
  std::vector<mail::Message> sent;
  auto failed = RunExpiryNotices(*state, account_, history_, {21, 7},
                                 Relay(sent, Fail(ErrorCode::kUnavailable, "451 try later")), now_);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->result, NoticeResult::kFailed);
  EXPECT_EQ(failed->error, "451 try later");
  EXPECT_EQ(*state->Notice({"production", "01", 21}), NoticeMark::kNone);
  EXPECT_TRUE(state->PendingNotices()->empty());
  // A crash between handing over and recording leaves a pending mark: outcome unknown.
  ASSERT_TRUE(state->MarkNotices({{"production", "01", 21}}, NoticeMark::kPending, now_));
  EXPECT_EQ(*state->PendingNotices(), std::vector<std::string>{"production/01/21"});
  auto retry = RunExpiryNotices(*state, account_, history_, {21, 7}, Relay(sent), now_ + 60);
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->result, NoticeResult::kSent);
  EXPECT_EQ(retry->unknown, std::vector<std::string>{"production/01/21"});
  ASSERT_EQ(retry->notified.size(), 1u);  // 02 only
  EXPECT_EQ(retry->notified[0].certificate.serial_hex, "02");
  // Logged once: the next run neither resends it nor reports it again.
  EXPECT_EQ(*state->Notice({"production", "01", 21}), NoticeMark::kUnknown);
  EXPECT_TRUE(state->PendingNotices()->empty());
  auto later = RunExpiryNotices(*state, account_, history_, {21, 7}, Relay(sent), now_ + 120);
  ASSERT_TRUE(later);
  EXPECT_TRUE(later->unknown.empty());
  EXPECT_EQ(later->result, NoticeResult::kNothingDue);
}

TEST_F(ExpiryNoticesTest, NoAddressOrNoRelayMeansFiledOnce) {
  auto state = ReporterState::Open(dir_.string());
  ASSERT_TRUE(state);
  account_.contacts = {"Demo Operator"};
  std::vector<mail::Message> sent;
  auto filed = RunExpiryNotices(*state, account_, history_, {21, 7}, Relay(sent), now_);
  ASSERT_TRUE(filed);
  EXPECT_EQ(filed->result, NoticeResult::kFiled);
  EXPECT_TRUE(sent.empty());
  EXPECT_NE(filed->html.find("b.corp.example"), std::string::npos);
  auto again = RunExpiryNotices(*state, account_, history_, {21, 7}, SendMail(), now_ + kDay);
  EXPECT_EQ(again->result, NoticeResult::kNothingDue);
}

TEST_F(ExpiryNoticesTest, TheStateSurvivesReopening) {
  {
    auto state = ReporterState::Open(dir_.string());
    ASSERT_TRUE(state);
    ASSERT_TRUE(state->SetLastReport("kid-a", {100, 200}, "sent", now_));
    ASSERT_TRUE(state->MarkNotices({{"staging", "0a", 7}}, NoticeMark::kSent, now_));
  }
  auto state = ReporterState::Open(dir_.string());
  ASSERT_TRUE(state);
  EXPECT_EQ(*state->LastReportUntil("kid-a"), std::optional<int64_t>(200));
  EXPECT_EQ(*state->LastReportUntil("kid-b"), std::nullopt);
  EXPECT_EQ(*state->Notice({"staging", "0a", 7}), NoticeMark::kSent);
  EXPECT_EQ(*state->Notice({"production", "0a", 7}), NoticeMark::kNone);
}

}  // namespace
}  // namespace ca::reports
