// ca-status-mirror: keeps a status replica's served directory equal to the origin's static
// export (see README.md). One pass every --interval seconds (or sooner when a file's next_update
// comes first); SIGTERM or SIGINT stops it between passes (a pass is bounded by the timeouts).
//
//   ca-status-mirror --origin URL --dir DIR [--interval 5] [--max-manifest-bytes N]
//       [--max-file-bytes N] [--connect-timeout 5] [--timeout 60] [--ca-file PEM] [--once]
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "common/log.h"
#include "crl_ocsp/mirror/mirror.h"

namespace {

using namespace ca;
using namespace ca::crl_ocsp::mirror;

Result<int64_t> ParseCount(const std::string& flag, const std::string& v, int64_t min,
                           int64_t max) {
  try {
    size_t pos = 0;
    long long n = std::stoll(v, &pos);
    if (pos == v.size() && n >= min && n <= max) return n;
  } catch (const std::exception&) {
  }
  return Fail(ErrorCode::kInvalidArgument, flag + " expects an integer in [" + std::to_string(min) +
                                               ", " + std::to_string(max) + "], got '" + v + "'");
}

struct Args {
  MirrorConfig config;
  bool once = false;
};

Result<Args> ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--once") {
      a.once = true;
      continue;
    }
    if (i + 1 >= argc) return Fail(ErrorCode::kInvalidArgument, "missing value for " + flag);
    std::string v = argv[++i];
    MirrorConfig& c = a.config;
    if (flag == "--origin")
      c.origin = v;
    else if (flag == "--dir")
      c.dir = v;
    else if (flag == "--interval")
      c.interval_seconds = CA_TRY(ParseCount(flag, v, 1, 86400));
    else if (flag == "--max-manifest-bytes")
      c.max_manifest_bytes =
          static_cast<size_t>(CA_TRY(ParseCount(flag, v, 1024, int64_t{1} << 32)));
    else if (flag == "--max-file-bytes")
      c.max_file_bytes = static_cast<size_t>(CA_TRY(ParseCount(flag, v, 1, int64_t{1} << 32)));
    else if (flag == "--connect-timeout")
      c.fetch.connect_timeout_seconds = CA_TRY(ParseCount(flag, v, 1, 600));
    else if (flag == "--timeout")
      c.fetch.transfer_timeout_seconds = CA_TRY(ParseCount(flag, v, 1, 3600));
    else if (flag == "--ca-file")
      c.fetch.ca_file = v;
    else
      return Fail(ErrorCode::kInvalidArgument, "unknown flag " + flag);
  }
  const std::string& o = a.config.origin;
  if (!o.starts_with("http://") && !o.starts_with("https://") && !o.starts_with("file:///"))
    return Fail(ErrorCode::kInvalidArgument,
                "--origin must be an http://, https:// or file:/// URL of the export root");
  if (a.config.dir.empty()) return Fail(ErrorCode::kInvalidArgument, "--dir is required");
  return a;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Waits until unix time `at` (seconds) or a stop signal; true when a signal came.
bool WaitUntilOrSignal(int64_t at, const sigset_t& stop) {
  for (;;) {
    int64_t left_ms = at * 1000 - NowMs();
    if (left_ms <= 0) return false;
    timespec ts{static_cast<time_t>(left_ms / 1000), static_cast<long>(left_ms % 1000) * 1000000L};
    int sig = sigtimedwait(&stop, nullptr, &ts);
    if (sig == SIGTERM || sig == SIGINT) return true;
  }
}

}  // namespace

int main(int argc, char** argv) {
  log::Init("ca-status-mirror");
  auto args = ParseArgs(argc, argv);
  if (!args) {
    std::fprintf(stderr, "ca-status-mirror: %s\n", args.error().message.c_str());
    return 2;
  }
  // Blocked before any thread exists: the signals stay pending until the wait between passes.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  auto mirror = Mirror::Open(args->config);
  if (!mirror) {
    std::fprintf(stderr, "ca-status-mirror: %s\n", mirror.error().ToString().c_str());
    return 1;
  }
  for (;;) {
    int64_t now = NowMs() / 1000;
    Health health = mirror->RunPass(now);
    if (args->once) return health.status == HealthStatus::kOk ? 0 : 3;
    if (WaitUntilOrSignal(mirror->NextPassAt(now), stop)) break;
  }
  log::Info("stopped");
  return 0;
}
