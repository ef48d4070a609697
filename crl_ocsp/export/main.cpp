// ca-status-export: writes the status store's artifacts into a directory that an unmodified
// nginx serves (exporter.h, README.md). Beside the engine, never the gateway; read-only on the
// store, no key.
//
//   ca-status-export --store DIR --dir EXPORT_DIR [--issuer NAME]... [--interval SECONDS]
//                    [--keep-margin SECONDS] [--once]
//   ca-status-export --config FILE [--once]
//
// FILE (the appliance's /etc/acme-ca/status-export.json; unknown keys refused):
//   {"store": DIR, "dir": EXPORT_DIR, "issuers": [NAME, ...], "interval_seconds": 5,
//    "keep_margin_seconds": 900}
//
// Without --once: a pass every --interval seconds (default 5) until SIGTERM or SIGINT.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/log.h"
#include "crl_ocsp/export/exporter.h"
#include "crl_ocsp/status_store.h"

namespace {

using namespace ca;
using namespace ca::crl_ocsp;

struct Args {
  std::string store;
  exporter::ExportOptions options;
  std::chrono::seconds interval{5};
  bool once = false;
};

Result<long> PositiveSeconds(const std::string& flag, const std::string& v) {
  try {
    size_t pos = 0;
    long n = std::stol(v, &pos);
    if (pos == v.size() && n > 0 && n <= 86400 * 30) return n;
  } catch (const std::exception&) {
  }
  return Fail(ErrorCode::kInvalidArgument, flag + " needs a number of seconds (1..2592000)");
}

Status ReadConfig(const std::string& path, Args& a) {
  std::ifstream in(path);
  if (!in) return Fail(ErrorCode::kInvalidArgument, "cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Fail(ErrorCode::kInvalidArgument, path + ": not a JSON object");
  auto seconds = [&](const char* key, auto& out) -> Status {
    if (!j[key].is_number_integer())
      return Fail(ErrorCode::kInvalidArgument, path + ": " + key + " must be an integer");
    out = std::chrono::seconds(CA_TRY(PositiveSeconds(key, std::to_string(j[key].get<long>()))));
    return {};
  };
  for (const auto& [key, value] : j.items()) {
    if (key == "store" && value.is_string()) {
      a.store = value.get<std::string>();
    } else if (key == "dir" && value.is_string()) {
      a.options.dir = value.get<std::string>();
    } else if (key == "issuers" && value.is_array()) {
      for (const auto& name : value) {
        if (!name.is_string())
          return Fail(ErrorCode::kInvalidArgument, path + ": issuers are names");
        a.options.issuers.push_back(name.get<std::string>());
      }
    } else if (key == "interval_seconds") {
      CA_TRY_STATUS(seconds("interval_seconds", a.interval));
    } else if (key == "keep_margin_seconds") {
      CA_TRY_STATUS(seconds("keep_margin_seconds", a.options.keep_margin));
    } else {
      return Fail(ErrorCode::kInvalidArgument, path + ": unknown or mistyped key " + key);
    }
  }
  return {};
}

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
    if (flag == "--config") {
      CA_TRY_STATUS(ReadConfig(v, a));
    } else if (flag == "--store") {
      a.store = v;
    } else if (flag == "--dir") {
      a.options.dir = v;
    } else if (flag == "--issuer") {
      a.options.issuers.push_back(v);
    } else if (flag == "--interval") {
      a.interval = std::chrono::seconds(CA_TRY(PositiveSeconds(flag, v)));
    } else if (flag == "--keep-margin") {
      a.options.keep_margin = std::chrono::seconds(CA_TRY(PositiveSeconds(flag, v)));
    } else {
      return Fail(ErrorCode::kInvalidArgument, "unknown option " + flag);
    }
  }
  if (a.store.empty() || a.options.dir.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "usage: ca-status-export --store DIR --dir EXPORT_DIR [--issuer NAME]... "
                "[--interval SECONDS] [--keep-margin SECONDS] [--once] | --config FILE [--once]");
  }
  return a;
}

// One pass, logged and reported in health.json; whether it succeeded.
bool Pass(exporter::Exporter& exporter) {
  auto start = std::chrono::steady_clock::now();
  Time now = pki::Now();
  Result<exporter::PassStats> stats = exporter.RunPass(now);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (stats) {
    nlohmann::json fields{{"files", stats->files},
                          {"written", stats->written},
                          {"removed", stats->removed},
                          {"withheld_stale", stats->withheld},
                          {"missing_issuers", stats->missing},
                          {"seconds", seconds}};
    if (stats->written > 0 || stats->removed > 0 || stats->withheld > 0 || !stats->missing.empty())
      log::Info("export_pass", fields);
  } else {
    log::Error("export_pass_failed", {{"error", stats.error().ToString()}});
  }
  if (Status h = exporter.WriteHealth(stats, now, seconds); !h) {
    log::Error("export_health_unwritable", {{"error", h.error().ToString()}});
  }
  return stats.has_value();
}

int Run(const Args& args) {
  auto reader = StatusReader::Open(args.store);
  if (!reader) {
    std::fprintf(stderr, "ca-status-export: %s\n", reader.error().ToString().c_str());
    return 1;
  }
  auto exporter = exporter::Exporter::Open(reader->env(), reader->dbs(), args.options);
  if (!exporter) {
    std::fprintf(stderr, "ca-status-export: %s\n", exporter.error().ToString().c_str());
    return 1;
  }
  if (args.once) return Pass(*exporter) ? 0 : 1;
  // SIGTERM/SIGINT are taken synchronously between passes: a pass is never cut in the middle.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  log::Info("export_started", {{"dir", args.options.dir}, {"interval", args.interval.count()}});
  for (;;) {
    Pass(*exporter);
    timespec wait{static_cast<time_t>(args.interval.count()), 0};
    int sig = sigtimedwait(&stop, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) break;
  }
  log::Info("export_stopped", {});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  log::Init("ca-status-export");
  // The export is public (a web server running as another user reads it): directories 0755
  // whatever umask the service manager gives; files are 0644 by WriteFileAtomic.
  ::umask(022);
  auto args = ParseArgs(argc, argv);
  if (!args) {
    std::fprintf(stderr, "ca-status-export: %s\n", args.error().message.c_str());
    return 2;
  }
  return Run(*args);
}
