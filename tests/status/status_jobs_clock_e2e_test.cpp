// End to end: the real ca-engine under libfaketime. The first CRL is published while the clock is
// two hours ahead; the engine restarts with the clock stepped back and a certificate is revoked.
// The revocation reaches OCSP at once, the due CRL is refused without spending CRL numbers (with
// backoff, logged), and once the clock passes the current CRL's thisUpdate the next CRL takes the
// next number.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "crl_ocsp/ocsp_response.h"
#include "crl_ocsp/publish_guard.h"
#include "crl_ocsp/status_store.h"
#include "engine/testing/engine_process.h"
#include "engine/testing/process_checks.h"

namespace ca::engine {
namespace {

using engine::api::IssueResponse;
using testing::EngineSetup;
using testing::ReadText;
using testing::WaitFor;

constexpr const char* kFaketimeLib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

void SetOffset(const std::string& file, const std::string& offset) {
  std::ofstream(file + ".tmp") << offset << "\n";
  std::filesystem::rename(file + ".tmp", file);
}

struct StoreView {
  uint64_t reserved = 0;  // last reserved CRL number
  std::optional<crl_ocsp::CrlInfo> crl;
  std::optional<crl_ocsp::OcspResponseInfo> response;
};

// Reads the status store beside the running engine (read-only).
StoreView Read(EngineSetup& setup, const std::string& serial_hex) {
  StoreView v;
  auto reader = crl_ocsp::StatusReader::Open(setup.dir().Sub("production-status"));
  EXPECT_TRUE(reader) << reader.error().ToString();
  if (!reader) return v;
  auto txn = kv::Txn::BeginRead(reader->env());
  EXPECT_TRUE(txn);
  if (!txn) return v;
  if (auto n = txn->Get(reader->dbs().crl_numbers, "test-int"); n && *n) {
    v.reserved = std::stoull(std::string(**n));
  }
  if (auto crl = crl_ocsp::FindCrl(*txn, reader->dbs(), "test-int"); crl && *crl) {
    v.crl = (*crl)->info;
  }
  if (!serial_hex.empty()) {
    auto serial = pki::Serial::FromHex(serial_hex);
    auto r = crl_ocsp::FindResponse(*txn, reader->dbs(), "test-int", serial->magnitude);
    if (r && *r) {
      auto der = std::span(reinterpret_cast<const uint8_t*>((*r)->der.data()), (*r)->der.size());
      if (auto info = crl_ocsp::InspectOcspResponse(der, setup.intermediate())) v.response = *info;
    }
  }
  return v;
}

TEST(StatusJobsClockE2E, ClockStepBackNeitherStallsOcspNorSpendsCrlNumbers) {
  if (!std::filesystem::exists(kFaketimeLib)) GTEST_SKIP() << "libfaketime not installed";
  auto setup = EngineSetup::Create(CA_ENGINE_BIN);
  ASSERT_TRUE(setup) << setup.error().ToString();
  EngineSetup& s = **setup;
  std::string offset_file = s.dir().Sub("faketime");
  std::map<std::string, std::string> env{{"LD_PRELOAD", kFaketimeLib},
                                         {"FAKETIME_TIMESTAMP_FILE", offset_file},
                                         {"FAKETIME_NO_CACHE", "1"},
                                         // Only the wall clock steps; the monotonic one goes on.
                                         {"FAKETIME_DONT_FAKE_MONOTONIC", "1"}};

  // Two hours ahead: the first CRL, and a certificate.
  SetOffset(offset_file, "+7200");
  ASSERT_TRUE(s.Start(env)) << ReadText(s.log_path());
  auto client = s.Client();
  ASSERT_TRUE(client);
  auto key = testing::FreshRsaKey();
  auto issued =
      client->Issue(testing::MakeIssueRequest("clk-1", s.kid(), {"clk1.example.fr"}, key.get()));
  ASSERT_TRUE(issued && std::holds_alternative<IssueResponse>(*issued)) << ReadText(s.log_path());
  std::string serial = std::get<IssueResponse>(*issued).serial_hex;
  ASSERT_TRUE(WaitFor([&] { return Read(s, serial).crl.has_value(); }, std::chrono::seconds(10)))
      << ReadText(s.log_path());
  StoreView first = Read(s, serial);
  ASSERT_EQ(first.crl->number, 1u);
  ASSERT_TRUE(first.response);
  EXPECT_EQ(first.response->status, crl_ocsp::CertStatus::kGood);
  s.Stop();

  // Stepped back to the real time; a revocation.
  SetOffset(offset_file, "+0");
  ASSERT_TRUE(s.Start(env)) << ReadText(s.log_path());
  client = s.Client();
  ASSERT_TRUE(client);
  engine::api::RevokeRequest revoke;
  revoke.serial_hex = serial;
  revoke.reason = pki::RevocationReason::kKeyCompromise;
  revoke.actor = "ra:test";
  auto revoked = client->Revoke(revoke);
  ASSERT_TRUE(revoked && std::holds_alternative<engine::api::RevokeResponse>(*revoked));
  // OCSP says revoked at once, although the clock is behind the stored response's thisUpdate.
  StoreView after_revoke = Read(s, serial);
  ASSERT_TRUE(after_revoke.response);
  EXPECT_EQ(after_revoke.response->status, crl_ocsp::CertStatus::kRevoked)
      << ReadText(s.log_path());
  EXPECT_GE(after_revoke.response->this_update, first.response->this_update);

  // 40 s later the CRL is due (crl_revocation_delay 30 s) but would be dated before CRL 1.
  SetOffset(offset_file, "+40");
  std::this_thread::sleep_for(std::chrono::seconds(6));
  StoreView refused = Read(s, serial);
  std::string log = ReadText(s.log_path());
  EXPECT_EQ(refused.reserved, 1u) << "CRL numbers spent on refused CRLs\n" << log;
  EXPECT_EQ(refused.crl->number, 1u);
  std::regex backoff(
      R"("event":"status_job_backoff"[^\n]*"job":"crl"|"job":"crl"[^\n]*"event":"status_job_backoff")");
  auto n_backoff =
      std::distance(std::sregex_iterator(log.begin(), log.end(), backoff), std::sregex_iterator());
  EXPECT_GE(n_backoff, 2) << log;
  EXPECT_LE(n_backoff, 4) << "retries are not backing off\n" << log;
  EXPECT_NE(log.find("behind the current CRL"), std::string::npos) << log;

  // The clock passes CRL 1's thisUpdate: CRL 2, listing the revocation, within the backoff.
  SetOffset(offset_file, "+7260");
  ASSERT_TRUE(WaitFor([&] { return Read(s, serial).crl->number == 2; }, std::chrono::seconds(20)))
      << ReadText(s.log_path());
  StoreView second = Read(s, serial);
  EXPECT_EQ(second.reserved, 2u);
  EXPECT_EQ(second.crl->entries, 1u);
  EXPECT_GE(second.crl->this_update, first.crl->this_update);
  s.Stop();
}

}  // namespace
}  // namespace ca::engine
