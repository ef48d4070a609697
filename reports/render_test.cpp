#include "reports/render.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "reports/report_files.h"

namespace ca::reports {
namespace {

// A strict RFC 4180 reader: rows of fields, CRLF line ends, quoted fields with "" inside.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false, in_quotes = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      EXPECT_TRUE(field.empty()) << "quote inside an unquoted field";
      in_quotes = quoted = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(field));
      field.clear();
      quoted = false;
    } else if (c == '\r') {
      EXPECT_EQ(text[i + 1], '\n');
      ++i;
      rows.back().push_back(std::move(field));
      field.clear();
      quoted = false;
      rows.emplace_back();
    } else {
      EXPECT_NE(c, '\n') << "bare LF outside quotes";
      field += c;
    }
  }
  EXPECT_FALSE(in_quotes);
  (void)quoted;
  EXPECT_TRUE(rows.back().empty() && field.empty()) << "the last row must end with CRLF";
  rows.pop_back();
  return rows;
}

AccountReport Sample() {
  AccountReport r;
  r.account.kid = "kid-1";
  r.account.organization = "Acme <Labs> & \"Sons\"";
  r.account.status = "active";
  r.account.contacts = {"ops@example.com"};
  r.account.domains = {"a.example.com (valid)"};
  r.since = 1'700'000'000;
  r.until = r.since + 86400;
  r.generated_at = r.until;
  CertificateEntry c;
  c.environment = "production";
  c.serial_hex = "01ab";
  c.profile = "SSL";
  c.names = {"a.example.com", "www.example.com"};
  c.issued_at = r.since + 10;
  c.not_before = c.issued_at;
  c.not_after = r.since + 90 * 86400;
  r.issued_in_period.push_back(c);
  c.revoked = true;
  c.revoked_at = r.since + 20;
  c.reason = 1;
  c.reason_name = "keyCompromise";
  r.revoked_in_period.push_back(c);
  r.issued = r.revoked = 1;
  r.issued_by_profile = {{"SSL", 1}};
  r.revoked_by_reason = {{"keyCompromise", 1}};
  FailureEntry f;
  f.at = r.since + 30;
  f.kind = FailureKind::kValidation;
  f.name = "b.example.com";
  f.challenge = "http-01";
  f.result_code = "ACME_HTTP_CHALLENGE_FAILED";
  f.detail = "got \"404\", expected <token>,\r\nthen gave up";
  r.failures.push_back(f);
  r.validation_failures = 1;
  ChangeEntry ch;
  ch.at = r.since + 40;
  ch.actor = "alice";
  ch.action = "domain.add";
  ch.object_type = "domain";
  ch.object_id = "c.example.com";
  ch.after = {{"fqdn", "c.example.com"}};
  r.changes.push_back(ch);
  return r;
}

TEST(Render, HtmlEscapesEveryText) {
  std::string html = RenderHtml(Sample());
  EXPECT_EQ(html.find("<Labs>"), std::string::npos);
  EXPECT_NE(html.find("Acme &lt;Labs&gt; &amp; &quot;Sons&quot;"), std::string::npos);
  EXPECT_NE(html.find("got &quot;404&quot;, expected &lt;token&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<token>"), std::string::npos);
  EXPECT_NE(html.find("01ab"), std::string::npos);
  EXPECT_NE(html.find("keyCompromise"), std::string::npos);
  EXPECT_NE(html.find("domain.add"), std::string::npos);
  EXPECT_NE(html.find("2023-11-14T22:13:20Z"), std::string::npos);  // RFC 3339 (pki/time.h)
  // Self-contained: nothing fetched from elsewhere.
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(HtmlEscape("a'b"), "a&#39;b");
}

TEST(Render, CsvParsesBackWithOneRowPerItem) {
  std::string csv = RenderCsv(Sample());
  auto rows = ParseCsv(csv);
  ASSERT_EQ(rows.size(), 5u);  // header, issued, revoked, failure, change
  EXPECT_EQ(rows[0], CsvColumns());
  auto col = [&](std::string_view name) {
    for (size_t i = 0; i < CsvColumns().size(); ++i)
      if (CsvColumns()[i] == name) return i;
    ADD_FAILURE() << name;
    return size_t{0};
  };
  for (const auto& row : rows) ASSERT_EQ(row.size(), CsvColumns().size());
  EXPECT_EQ(rows[1][col("section")], "issued");
  EXPECT_EQ(rows[1][col("serial")], "01ab");
  EXPECT_EQ(rows[1][col("names")], "a.example.com www.example.com");
  EXPECT_EQ(rows[2][col("section")], "revoked");
  EXPECT_EQ(rows[2][col("reason")], "keyCompromise");
  EXPECT_EQ(rows[2][col("time")], "2023-11-14T22:13:40Z");
  EXPECT_EQ(rows[3][col("section")], "failure");
  EXPECT_EQ(rows[3][col("kind")], "validation");
  EXPECT_EQ(rows[3][col("detail")], "got \"404\", expected <token>,\r\nthen gave up");
  EXPECT_EQ(rows[4][col("section")], "change");
  EXPECT_EQ(rows[4][col("action")], "domain.add");
  EXPECT_EQ(rows[4][col("object")], "domain c.example.com");
}

TEST(Render, StagingIsLabelledApart) {
  AccountReport r = Sample();
  EXPECT_NE(RenderHtml(r).find("No staging activity."), std::string::npos);
  CertificateEntry c = r.issued_in_period.at(0);
  c.environment = "staging";
  c.serial_hex = "5a5a";
  r.staging.issued_in_period.push_back(c);
  r.staging.issued = 1;
  std::string html = RenderHtml(r);
  size_t heading = html.find("Staging (test certificates, TEST hierarchy, not trusted)");
  ASSERT_NE(heading, std::string::npos);
  EXPECT_GT(html.find("5a5a"), heading);  // listed under the staging heading only
  EXPECT_NE(html.find("Staging certificates issued</td><td>1"), std::string::npos);
  auto rows = ParseCsv(RenderCsv(r));
  size_t serial = 0, environment = 0;
  for (size_t i = 0; i < CsvColumns().size(); ++i) {
    if (CsvColumns()[i] == "serial") serial = i;
    if (CsvColumns()[i] == "environment") environment = i;
  }
  bool seen = false;
  for (const auto& row : rows) {
    if (row[serial] != "5a5a") continue;
    seen = true;
    EXPECT_EQ(row[environment], "staging");
  }
  EXPECT_TRUE(seen);
}

TEST(Render, CsvField) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
}

TEST(ReportFiles, StemAndFilesWrittenWhole) {
  AccountReport r = Sample();
  r.since = 1'764'547'200;       // 2025-12-01T00:00:00Z
  r.until = r.since + 86400 * 31 - 1;  // 2025-12-31T23:59:59Z
  EXPECT_EQ(ReportFileStem(r), "report-kid-1-2025-12-01-2025-12-31");
  r.until = r.since + 3600;
  EXPECT_EQ(ReportFileStem(r), "report-kid-1-2025-12-01-20251201T010000Z");

  char tmpl[] = "/tmp/report_files_test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto files = WriteReportFiles(r, dir);
  ASSERT_TRUE(files) << files.error().ToString();
  EXPECT_EQ(files->html, dir + "/" + ReportFileStem(r) + ".html");
  std::ifstream in(files->csv, std::ios::binary);
  std::stringstream csv;
  csv << in.rdbuf();
  EXPECT_EQ(csv.str(), RenderCsv(r));
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 2u);  // no temporary left
  EXPECT_FALSE(WriteReportFiles(r, dir + "/missing"));
  std::filesystem::remove_all(dir);

  nlohmann::json j = ReportToJson(r);
  EXPECT_EQ(j["issued"], 1);
  EXPECT_EQ(j["certificates_revoked"][0]["reason_name"], "keyCompromise");
  EXPECT_EQ(j["changes"][0]["action"], "domain.add");
  EXPECT_EQ(j["since"], "2025-12-01T00:00:00Z");
}

}  // namespace
}  // namespace ca::reports
