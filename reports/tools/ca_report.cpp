// ca-report: the reporter run by acme-ca-report.timer (ANSSI R49). `ca-report run --config FILE
// [--now RFC3339]` sends every external account's due periodic report and its expiry notices,
// writes each to the report directory, prints one line per mail sent, filed or failed, and exits
// 1 when a send failed (the next run retries it), 2 on bad usage or an unreadable store.
#include <cstdio>
#include <string>
#include <string_view>

#include "common/log.h"
#include "common/secret.h"
#include "pki/time.h"
#include "reports/reporter.h"

namespace ca::reports {
namespace {

constexpr const char* kUsage =
    "usage: ca-report run --config FILE [--now RFC3339]\n"
    "  sends the due weekly/monthly reports and the expiry notices of every external account\n"
    "  (--now: the run's clock, e.g. 2026-12-07T00:00:00Z; default: now)\n";

int Usage(const std::string& problem) {
  std::fprintf(stderr, "ca-report: %s\n%s", problem.c_str(), kUsage);
  return 2;
}

int Main(int argc, char** argv) {
  log::Init("ca-report");
  if (argc < 2 || std::string_view(argv[1]) != "run") return Usage("expected the command 'run'");
  std::string config_path;
  int64_t now = pki::ToUnix(pki::Now());
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i + 1 >= argc) return Usage(std::string(arg) + ": unknown or missing its value");
    if (arg == "--config") {
      config_path = argv[++i];
    } else if (arg == "--now") {
      auto t = pki::ParseRfc3339(argv[++i]);
      if (!t) return Usage("--now: " + t.error().message);
      now = pki::ToUnix(*t);
    } else {
      return Usage("unknown option " + std::string(arg));
    }
  }
  if (config_path.empty()) return Usage("--config FILE is required");
  HardenProcessForSecrets();  // it may hold the relay's password
  auto config = LoadReporterConfig(config_path);
  if (!config) {
    std::fprintf(stderr, "ca-report: %s\n", config.error().ToString().c_str());
    return 2;
  }
  auto summary = RunReporter(*config, now);
  if (!summary) {
    std::fprintf(stderr, "ca-report: %s\n", summary.error().ToString().c_str());
    return 2;
  }
  for (const auto& line : summary->lines) std::printf("%s\n", line.text.c_str());
  if (summary->lines.empty()) std::printf("nothing due\n");
  return summary->any_failed() ? 1 : 0;
}

}  // namespace
}  // namespace ca::reports

int main(int argc, char** argv) {
  return ca::reports::Main(argc, argv);
}
