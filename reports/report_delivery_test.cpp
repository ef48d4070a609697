#include "reports/report_delivery.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "pki/time.h"
#include "reports/render.h"
#include "reports/report_files.h"

namespace ca::reports {
namespace {

AccountReport SampleReport(std::vector<std::string> contacts) {
  AccountReport r;
  r.account.kid = "0b5c7e8a-1111-4222-8333-944455556666";
  r.account.organization = "Corp";
  r.account.contacts = std::move(contacts);
  r.since = pki::ToUnix(*pki::ParseRfc3339("2026-11-23T00:00:00Z"));
  r.until = pki::ToUnix(*pki::ParseRfc3339("2026-11-29T23:59:59Z"));
  r.generated_at = r.until + 1;
  return r;
}

TEST(ReportDelivery, TheMailCarriesTheHtmlAndTheCsv) {
  auto r = SampleReport({"Jane <jane@corp.example>"});
  auto m = BuildReportMessage(r, {"jane@corp.example"});
  EXPECT_EQ(m.subject, "Certificate report 2026-11-23 .. 2026-11-29: Corp");
  EXPECT_EQ(m.html, RenderHtml(r));
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].name,
            "report-0b5c7e8a-1111-4222-8333-944455556666-2026-11-23-2026-11-29.csv");
  EXPECT_EQ(m.attachments[0].name, ReportFileStem(r) + ".csv");
  EXPECT_EQ(m.attachments[0].bytes, RenderCsv(r));
  EXPECT_TRUE(mail::CheckMessage(m));
}

TEST(ReportDelivery, SentToTheAddressesFiledWithoutThem) {
  auto dir =
      std::filesystem::temp_directory_path() / ("report-delivery-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::vector<mail::Message> sent;
  SendMail relay = [&](const mail::Message& m) {
    sent.push_back(m);
    return Ok();
  };
  auto r = SampleReport({"Demo Operator", "Jane <jane@corp.example>", "ops@corp.example"});
  auto d = DeliverReport(r, dir.string(), relay);
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->result, DeliveryResult::kSent);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].to, (std::vector<std::string>{"jane@corp.example", "ops@corp.example"}));
  ASSERT_EQ(d->files.size(), 2u);
  EXPECT_TRUE(std::filesystem::exists(d->files[0]));

  auto nobody = DeliverReport(SampleReport({"Demo Operator"}), dir.string(), relay);
  ASSERT_TRUE(nobody);
  EXPECT_EQ(nobody->result, DeliveryResult::kFiled);
  EXPECT_EQ(nobody->filed_reason, "no mail address among the account's contacts");
  EXPECT_EQ(sent.size(), 1u);

  auto no_relay = DeliverReport(r, dir.string(), SendMail());
  EXPECT_EQ(no_relay->filed_reason, "no SMTP relay configured");

  SendMail refusing = [](const mail::Message&) -> Status {
    return Fail(ErrorCode::kUnavailable, "550 5.7.1 relaying denied");
  };
  auto failed = DeliverReport(r, "", refusing);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->result, DeliveryResult::kFailed);
  EXPECT_EQ(failed->error, "550 5.7.1 relaying denied");
  EXPECT_TRUE(failed->files.empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ca::reports
