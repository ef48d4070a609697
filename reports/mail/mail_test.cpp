#include <gtest/gtest.h>

#include "reports/mail/address.h"
#include "reports/mail/message.h"
#include "reports/mail/smtp.h"

namespace ca::reports::mail {
namespace {

TEST(Address, ExtractsTheAddressOfAContact) {
  EXPECT_EQ(ExtractAddress("Jane Doe <jane@corp.example>"), "jane@corp.example");
  EXPECT_EQ(ExtractAddress("  jane@corp.example "), "jane@corp.example");
  EXPECT_EQ(ExtractAddress("mailto:ops+ca@corp.example"), "ops+ca@corp.example");
  EXPECT_EQ(ExtractAddress("\"Doe, Jane\" <jane.doe@corp.example>"), "jane.doe@corp.example");
  EXPECT_EQ(ExtractAddress("Jane <mailto:jane@corp.example>"), "jane@corp.example");
}

TEST(Address, SkipsContactsWithoutAnAddress) {
  EXPECT_EQ(ExtractAddress("Demo Operator"), std::nullopt);
  EXPECT_EQ(ExtractAddress(""), std::nullopt);
  EXPECT_EQ(ExtractAddress("Jane <>"), std::nullopt);
  EXPECT_EQ(ExtractAddress("Jane <jane@corp.example"), std::nullopt);
  EXPECT_EQ(ExtractAddress("Jane <jane@corp.example> trailing"), std::nullopt);
  EXPECT_EQ(ExtractAddress("jane@"), std::nullopt);
  EXPECT_EQ(ExtractAddress("@corp.example"), std::nullopt);
  EXPECT_EQ(ExtractAddress("jane..doe@corp.example"), std::nullopt);
  EXPECT_EQ(ExtractAddress("jane@corp..example"), std::nullopt);
  EXPECT_EQ(ExtractAddress("jane doe@corp.example"), std::nullopt);
  EXPECT_EQ(ExtractAddress("jane@corp.example\r\nBcc: x@evil.example"), std::nullopt);
  EXPECT_EQ(ExtractAddress("\"jane\"@corp.example"), std::nullopt);  // quoted local parts: no
  EXPECT_EQ(ExtractAddress("jane@corp_example"), std::nullopt);
}

TEST(Address, RecipientsAreDistinctInContactOrder) {
  std::vector<std::string> contacts = {"Security Team <sec@corp.example>", "Demo Operator",
                                       "jane@corp.example", "SEC@corp.example"};
  EXPECT_EQ(RecipientAddresses(contacts),
            (std::vector<std::string>{"sec@corp.example", "jane@corp.example"}));
  EXPECT_TRUE(RecipientAddresses({"Nobody"}).empty());
}

TEST(Message, DateIsRfc5322InUtc) {
  EXPECT_EQ(FormatMailDate(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(FormatMailDate(1796217574), "Wed, 02 Dec 2026 13:19:34 +0000");
}

TEST(Message, HeaderTextIsEncodedWhenNotAscii) {
  EXPECT_EQ(EncodeHeaderText("Weekly report"), "Weekly report");
  EXPECT_EQ(EncodeHeaderText("Rapport été"), "=?UTF-8?B?UmFwcG9ydCDDqXTDqQ==?=");
  std::string long_text(40, 'a');
  long_text += "éééééééééé";  // the split must not cut a UTF-8 sequence
  std::string encoded = EncodeHeaderText(long_text);
  EXPECT_NE(encoded.find("?= =?UTF-8?B?"), std::string::npos);
  EXPECT_EQ(encoded.find('\n'), std::string::npos);
}

TEST(Message, HeadersNameSenderRecipientsAndSubject) {
  Mailbox from = *ParseMailbox("ACME CA <reports@ca.example>");
  EXPECT_EQ(from.display_name, "ACME CA");
  EXPECT_EQ(from.address, "reports@ca.example");
  Message m{.subject = "Report",
            .to = {"a@corp.example", "b@corp.example"},
            .html = "<p>x</p>",
            .attachments = {}};
  ASSERT_TRUE(CheckMessage(m));
  std::string id = NewMessageId(from);
  EXPECT_TRUE(id.starts_with("<") && id.ends_with("@ca.example>")) << id;
  EXPECT_EQ(id.size(), 2 + 32 + 1 + 10u);
  EXPECT_NE(NewMessageId(from), id);
  auto h = BuildHeaders(m, from, 0, id);
  EXPECT_EQ(h, (std::vector<std::string>{"Date: Thu, 01 Jan 1970 00:00:00 +0000",
                                         "Message-ID: " + id, "From: ACME CA <reports@ca.example>",
                                         "To: a@corp.example, b@corp.example", "Subject: Report"}));
  Mailbox bare = *ParseMailbox("reports@ca.example");
  EXPECT_EQ(BuildHeaders(m, bare, 0, id)[2], "From: reports@ca.example");
  Mailbox quoted = *ParseMailbox("\"CA, reports\" <reports@ca.example>");
  EXPECT_EQ(BuildHeaders(m, quoted, 0, id)[2], "From: \"CA, reports\" <reports@ca.example>");
  Mailbox accented = *ParseMailbox("Autorité <reports@ca.example>");
  EXPECT_EQ(BuildHeaders(m, accented, 0, id)[2],
            "From: =?UTF-8?B?QXV0b3JpdMOp?= <reports@ca.example>");
  EXPECT_FALSE(ParseMailbox("ACME CA"));
}

TEST(Message, UnsafeMessagesAreRefused) {
  Message ok{.subject = "s",
             .to = {"a@corp.example"},
             .html = "",
             .attachments = {{"report.csv", "text/csv; charset=utf-8", "a,b\n"}}};
  EXPECT_TRUE(CheckMessage(ok));
  Message m = ok;
  m.to.clear();
  EXPECT_FALSE(CheckMessage(m));
  m = ok;
  m.to = {"Jane <a@corp.example>"};
  EXPECT_FALSE(CheckMessage(m));
  m = ok;
  m.subject = "s\r\nBcc: x@evil.example";
  EXPECT_FALSE(CheckMessage(m));
  m = ok;
  m.attachments[0].name = "../report.csv";
  EXPECT_FALSE(CheckMessage(m));
  m = ok;
  m.attachments[0].name = "re\"port.csv";
  EXPECT_FALSE(CheckMessage(m));
  m = ok;
  m.attachments[0].mime_type = "text/csv\r\nX: y";
  EXPECT_FALSE(CheckMessage(m));
}

TEST(Smtp, ConfigIsCheckedBeforeAnyConnection) {
  SmtpConfig c;
  c.url = "http://relay.example";
  c.from = "r@ca.example";
  EXPECT_EQ(SmtpSender::Create(c).error().code, ErrorCode::kInvalidArgument);
  c.url = "smtp://relay.example:587";
  c.from = "not an address";
  EXPECT_FALSE(SmtpSender::Create(c));
  c.from = "r@ca.example";
  c.username = "ca";
  EXPECT_FALSE(SmtpSender::Create(c));  // username without password_file
  c.username = "";
  EXPECT_TRUE(SmtpSender::Create(c));
  c.url = "smtps://relay.example:465";
  EXPECT_TRUE(SmtpSender::Create(c));
  auto j = nlohmann::json{{"url", "smtp://127.0.0.1:1"}, {"from", "r@ca.example"}, {"colour", 1}};
  EXPECT_FALSE(SmtpConfigFromJson(j));
  j.erase("colour");
  auto parsed = SmtpConfigFromJson(j);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->timeout_seconds, 60);
}

TEST(Smtp, AnUnreachableRelayIsAnErrorValue) {
  SmtpConfig c;
  c.url = "smtp://127.0.0.1:1";
  c.from = "r@ca.example";
  c.timeout_seconds = 5;
  auto sender = SmtpSender::Create(c);
  ASSERT_TRUE(sender);
  Message m{.subject = "s", .to = {"a@corp.example"}, .html = "<p>x</p>", .attachments = {}};
  auto st = sender->Send(m, 0);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(st.error().message.find("smtp://127.0.0.1:1"), std::string::npos);
  m.to.clear();
  EXPECT_EQ(sender->Send(m, 0).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ca::reports::mail
