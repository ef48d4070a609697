#include "reports/ledger.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/audit_log.h"
#include "common/encoding.h"
#include "reports/audit_reader.h"

namespace ca::reports {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kKid[] = "kid-a";
constexpr char kOtherKid[] = "kid-b";

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ledger_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    sources_ = {dir_ + "/engine.jsonl", dir_ + "/gateway.jsonl", dir_ + "/ra.jsonl"};
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void Append(const std::string& path, std::string_view event, const json& fields) {
    auto log = audit::AuditLog::Open(path, "test");
    ASSERT_TRUE(log) << log.error().ToString();
    ASSERT_TRUE((*log)->Append(event, fields));
  }
  void Issued(const std::string& serial, const std::string& kid, const std::string& acme,
              std::vector<std::string> names, const std::string& profile = "SSL") {
    Append(sources_.engine, "issued",
           {{"environment", "production"}, {"serial", serial}, {"request_id", "r-" + serial},
            {"order", "o-" + serial}, {"account", acme}, {"external_account", kid},
            {"profile", profile}, {"names", names}, {"not_before", 1000}, {"not_after", 2000000000},
            {"completed_by", "engine"}, {"result", "issued"}, {"result_code", "OK"}});
  }
  void PolicyChange(const std::string& action, const std::string& type, const std::string& id,
                    const std::string& account, const std::string& domain, json before, json after,
                    int64_t time) {
    Append(sources_.ra, "policy_change",
           {{"actor", "alice"}, {"action", action}, {"object_type", type}, {"object_id", id},
            {"account", account}, {"domain", domain}, {"before", before}, {"after", after},
            {"policy_version", 3}, {"time_text", "x"}, {"policy_audit_seq", 1},
            {"policy_time", time}});
  }
  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void Spit(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }

  std::string dir_;
  AuditSources sources_;
};

TEST_F(LedgerTest, IssuanceRevocationAndMassRevocation) {
  Issued("01aa", kKid, "acct-1", {"b.example.com", "a.example.com"}, "SSL_RGS");
  Issued("02bb", kKid, "acct-1", {"c.example.com"});
  Issued("03cc", kKid, "acct-2", {"d.example.com"});
  Issued("04dd", kOtherKid, "acct-9", {"e.example.org"});
  Append(sources_.engine, "revoked",
         {{"environment", "production"}, {"serial", "01aa"}, {"reason", 1},
          {"reason_name", "keyCompromise"}, {"actor", "acme"}, {"newly_revoked", true},
          {"revoked_at", 5000}, {"result", "revoked"}});
  Append(sources_.engine, "mass_revocation_applied",
         {{"environment", "production"}, {"mass_revocation_seq", 1},
          {"acme_account_id", "acct-1"}, {"external_account_kid", kKid}, {"reason", 9},
          {"reason_name", "privilegeWithdrawn"}, {"actor", "bob"}, {"applied_at", 6000},
          {"revoked", {"01aa", "02bb"}}, {"revoked_count", 2}});

  auto ledger = Ledger::Open(sources_);
  ASSERT_TRUE(ledger);
  auto taken = ledger->Refresh();
  ASSERT_TRUE(taken) << taken.error().ToString();
  EXPECT_EQ(*taken, 6u);
  EXPECT_EQ(ledger->version(), 1u);
  EXPECT_EQ(ledger->Accounts(), (std::vector<std::string>{kKid, kOtherKid}));

  AccountHistory h = ledger->History(kKid);
  ASSERT_EQ(h.certificates.size(), 3u);
  const auto& first = h.certificates[0];
  EXPECT_EQ(first.serial_hex, "01aa");
  EXPECT_EQ(first.profile, "SSL_RGS");
  EXPECT_EQ(first.names, (std::vector<std::string>{"a.example.com", "b.example.com"}));
  EXPECT_EQ(first.acme_account_id, "acct-1");
  EXPECT_EQ(first.order_id, "o-01aa");
  EXPECT_EQ(first.environment, "production");
  EXPECT_EQ(first.not_after, 2000000000);
  EXPECT_GT(first.issued_at, 0);
  // The first revocation stands; the mass revocation revoked the second one.
  EXPECT_TRUE(first.revoked);
  EXPECT_EQ(first.revoked_at, 5000);
  EXPECT_EQ(first.reason, 1);
  EXPECT_EQ(first.reason_name, "keyCompromise");
  EXPECT_TRUE(h.certificates[1].revoked);
  EXPECT_EQ(h.certificates[1].revoked_at, 6000);
  EXPECT_EQ(h.certificates[1].reason_name, "privilegeWithdrawn");
  EXPECT_FALSE(h.certificates[2].revoked);
  EXPECT_TRUE(h.certificates[2].ValidAt(10000));
  EXPECT_FALSE(first.ValidAt(10000));
  EXPECT_TRUE(first.ValidAt(4999));  // revoked later than that

  EXPECT_EQ(ledger->History(kOtherKid).certificates.size(), 1u);
  EXPECT_TRUE(ledger->History("nobody").certificates.empty());
  EXPECT_EQ(ledger->History("nobody").kid, "nobody");
  auto found = ledger->FindCertificate("04dd");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->external_account_kid, kOtherKid);
  EXPECT_FALSE(ledger->FindCertificate("ffff"));

  // Nothing new: nothing taken, version unchanged.
  EXPECT_EQ(*ledger->Refresh(), 0u);
  EXPECT_EQ(ledger->version(), 1u);
}

TEST_F(LedgerTest, RevokeAllForAccountRevokesTheAccountsCertificates) {
  Issued("0a", kKid, "acct-1", {"a.example.com"});
  Issued("0b", kKid, "acct-2", {"b.example.com"});
  Append(sources_.engine, "revoked_all_for_account",
         {{"environment", "production"}, {"account", "acct-1"}, {"external_account", kKid},
          {"reason", 3}, {"reason_name", "affiliationChanged"}, {"actor", "ra"},
          {"revoked_count", 1}, {"result", "revoked"}});
  auto ledger = Ledger::Open(sources_);
  ASSERT_TRUE(ledger->Refresh());
  auto h = ledger->History(kKid);
  EXPECT_TRUE(h.certificates[0].revoked);
  EXPECT_EQ(h.certificates[0].reason_name, "affiliationChanged");
  EXPECT_FALSE(h.certificates[1].revoked);
}

TEST_F(LedgerTest, RefusalsAndValidationFailures) {
  Issued("0a", kKid, "acct-1", {"a.example.com"});
  Append(sources_.gateway, "issuance_refused",
         {{"endpoint", "new-order"}, {"problem", "urn:ietf:params:acme:error:rateLimited"},
          {"status", 429}, {"result_code", "RATE_LIMITED"}, {"detail", "RATE_LIMITED: too many"},
          {"account", "acct-1"}, {"external_account", kKid}});
  Append(sources_.gateway, "issuance_refused",
         {{"endpoint", "new-order"}, {"problem", "urn:ietf:params:acme:error:rejectedIdentifier"},
          {"status", 400}, {"result_code", "DOMAIN_NOT_ALLOWED"}, {"detail", "DOMAIN_NOT_ALLOWED: x"},
          {"account", "acct-1"}, {"names", {"x.example.net", "y.example.net"}}});  // kid via acct
  Append(sources_.gateway, "issuance_refused",
         {{"endpoint", "new-order"}, {"problem", "urn:ietf:params:acme:error:malformed"},
          {"status", 400}, {"result_code", ""}, {"detail", "no account"}});  // nobody's
  Append(sources_.gateway, "validation_failed",
         {{"external_account", kKid}, {"account", "acct-1"}, {"name", "a.example.com"},
          {"challenge", "http-01"}, {"result_code", "ACME_HTTP_CHALLENGE_FAILED"},
          {"problem", "urn:ietf:params:acme:error:unauthorized"}, {"detail", "404"}});
  auto ledger = Ledger::Open(sources_);
  auto taken = ledger->Refresh();
  ASSERT_TRUE(taken);
  EXPECT_EQ(*taken, 5u);
  auto h = ledger->History(kKid);
  ASSERT_EQ(h.failures.size(), 3u);
  EXPECT_EQ(h.failures[0].kind, FailureKind::kRateLimited);
  EXPECT_EQ(h.failures[0].result_code, "RATE_LIMITED");
  EXPECT_EQ(h.failures[1].kind, FailureKind::kRefused);
  EXPECT_EQ(h.failures[1].name, "x.example.net, y.example.net");
  EXPECT_EQ(h.failures[1].external_account_kid, kKid);
  EXPECT_EQ(h.failures[2].kind, FailureKind::kValidation);
  EXPECT_EQ(h.failures[2].challenge, "http-01");
  EXPECT_EQ(h.failures[2].name, "a.example.com");
  EXPECT_EQ(h.failures[2].result_code, "ACME_HTTP_CHALLENGE_FAILED");
  EXPECT_EQ(h.failures[2].detail, "404");
  EXPECT_EQ(FailureKindName(FailureKind::kRateLimited), "rate_limited");
}

TEST_F(LedgerTest, StagingGatewayFailuresAreLabelledStaging) {
  sources_.gateway_staging = dir_ + "/gateway-staging.jsonl";
  Append(sources_.gateway, "validation_failed",
         {{"external_account", kKid},
          {"account", "acct-1"},
          {"name", "a.example.com"},
          {"challenge", "http-01"},
          {"result_code", "ACME_HTTP_CHALLENGE_FAILED"}});
  Append(sources_.gateway_staging, "issuance_refused",
         {{"endpoint", "new-order"},
          {"problem", "urn:ietf:params:acme:error:rateLimited"},
          {"result_code", "RATE_LIMITED"},
          {"account", "stg-acct"},
          {"external_account", kKid}});
  auto ledger = Ledger::Open(sources_);
  ASSERT_TRUE(ledger);
  auto taken = ledger->Refresh();
  ASSERT_TRUE(taken) << taken.error().ToString();
  EXPECT_EQ(*taken, 2u);
  auto h = ledger->History(kKid);
  ASSERT_EQ(h.failures.size(), 2u);
  std::map<std::string, FailureKind> by_environment;
  for (const auto& f : h.failures) by_environment[f.environment] = f.kind;
  EXPECT_EQ(by_environment.at("production"), FailureKind::kValidation);
  EXPECT_EQ(by_environment.at("staging"), FailureKind::kRateLimited);
}

TEST_F(LedgerTest, PolicyChangesBelongToTheirAccount) {
  PolicyChange("ext-account.create", "external_account", kKid, kKid, "", nullptr,
               {{"kid", kKid}}, 100);
  PolicyChange("domain.add", "domain", "a.example.com", kKid, "a.example.com", nullptr,
               {{"fqdn", "a.example.com"}}, 110);
  PolicyChange("acme-account.suspend", "acme_account", "acct-7", "acct-7", "", nullptr,
               {{"acme_account_id", "acct-7"}, {"external_account_kid", kKid}}, 120);
  PolicyChange("acme-account.resume", "acme_account", "acct-7", "acct-7", "",
               {{"acme_account_id", "acct-7"}, {"external_account_kid", kKid}},
               {{"acme_account_id", "acct-7"}, {"external_account_kid", kKid}}, 130);
  PolicyChange("org.create", "organization", "org-1", "", "", nullptr, {{"id", "org-1"}}, 90);
  PolicyChange("ext-account.regenerate-mac", "external_account", kOtherKid, kOtherKid, "",
               nullptr, nullptr, 140);
  auto ledger = Ledger::Open(sources_);
  ASSERT_TRUE(ledger->Refresh());
  auto h = ledger->History(kKid);
  ASSERT_EQ(h.changes.size(), 4u);
  EXPECT_EQ(h.changes[0].action, "ext-account.create");
  EXPECT_EQ(h.changes[0].actor, "alice");
  EXPECT_EQ(h.changes[0].at, 100);
  EXPECT_TRUE(h.changes[0].before.is_null());
  EXPECT_EQ(h.changes[1].action, "domain.add");
  EXPECT_EQ(h.changes[1].domain, "a.example.com");
  EXPECT_EQ(h.changes[2].object_id, "acct-7");
  EXPECT_EQ(h.changes[3].action, "acme-account.resume");
  EXPECT_EQ(ledger->History(kOtherKid).changes.size(), 1u);
  // The organization's change belongs to no account.
  EXPECT_EQ(ledger->Accounts(), (std::vector<std::string>{kKid, kOtherKid}));
}

TEST_F(LedgerTest, TamperedLineBreaksTheChainAndKeepsWhatCameBefore) {
  Issued("0a", kKid, "acct-1", {"a.example.com"});
  Issued("0b", kKid, "acct-1", {"b.example.com"});
  Issued("0c", kKid, "acct-1", {"c.example.com"});
  std::string text = Slurp(sources_.engine);
  auto at = text.find("b.example.com");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 1, "z");  // the second entry now claims z.example.com
  Spit(sources_.engine, text);
  auto ledger = Ledger::Open(sources_);
  auto taken = ledger->Refresh();
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(taken.error().message.find("line 2"), std::string::npos) << taken.error().message;
  auto h = ledger->History(kKid);
  ASSERT_EQ(h.certificates.size(), 1u);
  EXPECT_EQ(h.certificates[0].serial_hex, "0a");
  ASSERT_EQ(ledger->Problems().size(), 1u);
  // The file stays refused: later refreshes add nothing from it.
  EXPECT_FALSE(ledger->Refresh());
  EXPECT_EQ(ledger->History(kKid).certificates.size(), 1u);
}

TEST_F(LedgerTest, DeletedLineBreaksThePrevLink) {
  Issued("0a", kKid, "acct-1", {"a.example.com"});
  Issued("0b", kKid, "acct-1", {"b.example.com"});
  Issued("0c", kKid, "acct-1", {"c.example.com"});
  std::string text = Slurp(sources_.engine);
  size_t first_end = text.find('\n') + 1;
  size_t second_end = text.find('\n', first_end) + 1;
  Spit(sources_.engine, text.substr(0, first_end) + text.substr(second_end));
  auto ledger = Ledger::Open(sources_);
  auto taken = ledger->Refresh();
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ErrorCode::kCorrupt);
  EXPECT_EQ(ledger->History(kKid).certificates.size(), 1u);
}

// A torn write in an append-only file is sealed by the writer (an audit_tail_repaired entry naming
// the fragment's hash): the chain goes on, as ca-audit verify-audit accepts it.
TEST_F(LedgerTest, SealedTornWriteIsAccepted) {
  Issued("0a", kKid, "acct-1", {"a.example.com"});
  auto ledger = Ledger::Open(sources_);
  ASSERT_EQ(*ledger->Refresh(), 1u);
  const std::string fragment = "{\"event\":\"issued\",\"ser";
  {
    std::ofstream out(sources_.engine, std::ios::binary | std::ios::app);
    out << fragment << "\n";
  }
  EXPECT_EQ(*ledger->Refresh(), 0u);  // held: a torn write, if sealed next
  // What the writer appends when it cannot cut the fragment (chattr +a): its hash, then the chain.
  std::string text = Slurp(sources_.engine);
  std::string first = text.substr(0, text.find('\n'));
  json prev = json::parse(first);
  json seal = {{"event", "audit_tail_repaired"}, {"torn_bytes", fragment.size()},
               {"torn_sha256", HexEncode(Sha256(fragment))}, {"pid", 1}, {"prev", prev["hash"]},
               {"seq", 2}, {"ts", "2026-01-01T00:00:00.000Z"}, {"writer", "test"}};
  seal["hash"] = audit::EntryHash(seal);
  {
    std::ofstream out(sources_.engine, std::ios::binary | std::ios::app);
    out << audit::Canonical(seal) << "\n";
  }
  auto verified = audit::VerifyFile(sources_.engine);
  ASSERT_TRUE(verified);
  ASSERT_TRUE(verified->ok()) << verified->problems[0].what;
  auto taken = ledger->Refresh();
  ASSERT_TRUE(taken) << taken.error().ToString();
  EXPECT_EQ(*taken, 1u);
  Issued("0b", kKid, "acct-1", {"b.example.com"});
  EXPECT_EQ(*ledger->Refresh(), 1u);
  EXPECT_EQ(ledger->History(kKid).certificates.size(), 2u);
}

TEST_F(LedgerTest, IncrementalRefreshWaitsForACompleteLine) {
  Issued("0a", kKid, "acct-1", {"a.example.com"});
  auto ledger = Ledger::Open(sources_);
  ASSERT_EQ(*ledger->Refresh(), 1u);

  // Another entry, of which only a part has reached the file so far.
  Issued("0b", kKid, "acct-1", {"b.example.com"});
  std::string full = Slurp(sources_.engine);
  size_t first_end = full.find('\n') + 1;
  Spit(sources_.engine, full.substr(0, first_end + 40));
  auto partial = ledger->Refresh();
  ASSERT_TRUE(partial) << partial.error().ToString();
  EXPECT_EQ(*partial, 0u);
  EXPECT_EQ(ledger->version(), 1u);

  Spit(sources_.engine, full);  // the rest of the line arrives
  auto rest = ledger->Refresh();
  ASSERT_TRUE(rest) << rest.error().ToString();
  EXPECT_EQ(*rest, 1u);
  EXPECT_EQ(ledger->version(), 2u);
  EXPECT_EQ(ledger->History(kKid).certificates.size(), 2u);

  // Appends by the writer after that are taken in too, the chain continuing.
  Issued("0c", kKid, "acct-1", {"c.example.com"});
  EXPECT_EQ(*ledger->Refresh(), 1u);
  EXPECT_EQ(ledger->History(kKid).certificates.size(), 3u);
}

TEST_F(LedgerTest, ReaderTakesBoundedBatches) {
  for (int i = 0; i < 5; ++i) Issued("0" + std::to_string(i), kKid, "acct-1", {"a.example.com"});
  AuditReader reader("engine", sources_.engine);
  std::vector<json> entries;
  size_t calls = 0;
  do {
    const size_t before = entries.size();
    ASSERT_TRUE(reader.ReadNew(entries, 10));  // less than a line: one entry per call
    EXPECT_EQ(entries.size(), before + 1);
    ++calls;
  } while (!reader.drained());
  EXPECT_EQ(calls, 5u);
  EXPECT_EQ(entries.back()["serial"], "04");
  EXPECT_EQ(reader.offset(), static_cast<int64_t>(fs::file_size(sources_.engine)));
  ASSERT_TRUE(reader.ReadNew(entries, 10));
  EXPECT_EQ(entries.size(), 5u);
}

TEST_F(LedgerTest, MissingFilesReadAsEmptyUntilWritten) {
  auto ledger = Ledger::Open(sources_);
  ASSERT_TRUE(ledger);
  EXPECT_EQ(*ledger->Refresh(), 0u);
  Issued("0a", kKid, "acct-1", {"a.example.com"});
  EXPECT_EQ(*ledger->Refresh(), 1u);
  EXPECT_FALSE(Ledger::Open({}));
}

TEST_F(LedgerTest, ReadsAreSafeWhileRefreshing) {
  auto ledger = Ledger::Open(sources_);
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done) {
      for (const auto& kid : ledger->Accounts()) (void)ledger->History(kid);
    }
  });
  for (int i = 0; i < 50; ++i) {
    Issued("1" + std::to_string(i), i % 2 ? kKid : kOtherKid, "acct", {"a.example.com"});
    ASSERT_TRUE(ledger->Refresh());
  }
  done = true;
  reader.join();
  EXPECT_EQ(ledger->History(kKid).certificates.size() + ledger->History(kOtherKid).certificates.size(),
            50u);
}

}  // namespace
}  // namespace ca::reports
