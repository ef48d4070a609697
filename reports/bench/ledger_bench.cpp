// How the ledger scales (reports/ledger.h): writes real hash-chained audit files (common/
// audit_log.h) with N "issued" entries spread over K external accounts, one revocation in ten and
// one refusal in twenty, then times what the dashboard and ca-report do with them: the first full
// read (Open + Refresh, every entry verified), an incremental Refresh after 1,000 more entries,
// one account's History and its BuildAccountReport. Prints peak RSS (VmHWM) too: the ledger keeps
// every certificate in memory.
//
//   build/reports/bench/ledger_bench [N=200000] [K=50]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/audit_log.h"
#include "reports/account_report.h"
#include "reports/ledger.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

long PeakRssKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmHWM:")) return std::atol(line.c_str() + 6);
  }
  return -1;
}

std::string Kid(size_t i) {
  return "kid-" + std::to_string(i);
}
std::string Serial(size_t i) {
  char buf[41];
  std::snprintf(buf, sizeof(buf), "%040zx", i + 1);
  return buf;
}

// Appends entries [from, to) to the engine and gateway files.
bool Fill(ca::audit::AuditLog& engine, ca::audit::AuditLog& gateway, size_t from, size_t to,
          size_t accounts) {
  for (size_t i = from; i < to; ++i) {
    std::string kid = Kid(i % accounts), serial = Serial(i);
    int64_t t = 1767225600 + static_cast<int64_t>(i);  // 2026-01-01 onwards, one per second
    json issued = {{"environment", "production"},
                   {"serial", serial},
                   {"request_id", "r" + serial},
                   {"order", "o" + serial},
                   {"account", "acme-" + kid},
                   {"external_account", kid},
                   {"profile", "SSL"},
                   {"names", {"host" + std::to_string(i) + ".corp.example"}},
                   {"not_before", t},
                   {"not_after", t + 90 * 86400},
                   {"completed_by", "engine"},
                   {"result", "issued"},
                   {"result_code", "OK"}};
    if (!engine.Append("issued", issued)) return false;
    if ((i / accounts) % 10 == 9 && !engine.Append("revoked", {{"environment", "production"},
                                                  {"serial", serial},
                                                  {"reason", 4},
                                                  {"reason_name", "superseded"},
                                                  {"actor", "acme-" + kid},
                                                  {"newly_revoked", true},
                                                  {"revoked_at", t + 60},
                                                  {"result", "revoked"}})) {
      return false;
    }
    if (i % 20 == 0 &&
        !gateway.Append("issuance_refused",
                        {{"endpoint", "new-order"},
                         {"problem", "urn:ietf:params:acme:error:rejectedIdentifier"},
                         {"status", 400},
                         {"result_code", "DOMAIN_NOT_FOUND"},
                         {"detail", "not in the domain list"},
                         {"account", "acme-" + kid},
                         {"external_account", kid}})) {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  size_t k = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 50;
  if (n == 0 || k == 0) {
    std::fprintf(stderr, "usage: ledger_bench [issued certificates > 0] [accounts > 0]\n");
    return 2;
  }
  char tmpl[] = "/tmp/ledger_bench.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  std::string dir = tmpl;
  ca::reports::AuditSources sources{dir + "/engine.jsonl", dir + "/gateway.jsonl",
                                    dir + "/ra.jsonl", /*gateway_staging=*/""};
  auto engine = ca::audit::AuditLog::Open(sources.engine, "ca-engine");
  auto gateway = ca::audit::AuditLog::Open(sources.gateway, "ca-gateway");
  auto ra = ca::audit::AuditLog::Open(sources.ra, "ca-ra");
  int rc = 1;
  if (engine && gateway && ra) {
    auto t = Clock::now();
    if (Fill(**engine, **gateway, 0, n, k)) {
      std::printf("LEDGER write entries=%zu accounts=%zu seconds=%.2f engine_file_mib=%.1f\n", n, k,
                  Seconds(t), std::filesystem::file_size(sources.engine) / 1048576.0);
      t = Clock::now();
      auto ledger = ca::reports::Ledger::Open(sources);
      auto first = ledger ? ledger->Refresh() : ca::Result<size_t>(0);
      if (ledger && first) {
        std::printf("LEDGER first_read entries=%zu seconds=%.3f peak_rss_mib=%.1f\n", *first,
                    Seconds(t), PeakRssKib() / 1024.0);
        Fill(**engine, **gateway, n, n + 1000, k);
        t = Clock::now();
        auto more = ledger->Refresh();
        std::printf("LEDGER refresh entries=%zu seconds=%.4f\n", more ? *more : 0, Seconds(t));
        t = Clock::now();
        auto history = ledger->History(Kid(0));
        double history_s = Seconds(t);
        t = Clock::now();
        ca::reports::AccountSummary summary;
        summary.kid = Kid(0);
        // Entries carry the time they were written (now): the period covers the whole run.
        const int64_t since = 0, until = static_cast<int64_t>(::time(nullptr)) + 60;
        auto report = ca::reports::BuildAccountReport(history, summary, since, until, until);
        std::printf(
            "LEDGER account certificates=%zu history_seconds=%.4f report_seconds=%.4f "
            "issued=%zu revoked=%zu\n",
            history.certificates.size(), history_s, Seconds(t), report.issued, report.revoked);
        rc = 0;
      } else {
        std::fprintf(stderr, "ledger: %s\n",
                     (ledger ? first.error() : ledger.error()).ToString().c_str());
      }
    }
  }
  std::filesystem::remove_all(dir);
  return rc;
}
