// One status replica: pulls the export's manifest.json from the origin, fetches the files whose
// SHA-256 changed, verifies size and SHA-256, installs them atomically into the directory its web
// server serves, removes files the manifest no longer lists, and never keeps a file past its
// next_update, whether or not the origin can be reached. Each pass writes manifest.json (what is
// served, same schema as the origin's) and health.json (see README.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "crl_ocsp/mirror/http_fetch.h"
#include "crl_ocsp/mirror/manifest.h"
#include "crl_ocsp/mirror/served_dir.h"

namespace ca::crl_ocsp::mirror {

struct MirrorConfig {
  std::string origin;  // the export root: http(s)://host[:port][/prefix] or file:///dir
  std::string dir;     // the served directory (exists; empty or a mirror directory)
  int64_t interval_seconds = 5;
  size_t max_manifest_bytes = 64u << 20;
  size_t max_file_bytes = 64u << 20;
  FetchOptions fetch;
};

enum class HealthStatus { kOk, kOriginUnreachable, kStale };
std::string_view HealthStatusName(HealthStatus status);

struct Health {
  HealthStatus status = HealthStatus::kOk;
  bool origin_reachable = false;
  int64_t last_attempt = 0;
  std::optional<int64_t> last_success;   // last pass that left the replica equal to the origin
  std::optional<int64_t> serving_until;  // earliest next_update among served files
  std::optional<int64_t> manifest_generated_at;
  size_t files = 0;
  std::vector<std::string> expired;  // listed but no longer served: past next_update
  std::string last_error;            // why the last pass fell short, "" if it did not

  nlohmann::json ToJson() const;
};

class Mirror {
 public:
  // Opens the directory, takes back what an earlier run served (manifest.json there; each file
  // re-hashed, a file that does not match is dropped) and removes anything else.
  static Result<Mirror> Open(MirrorConfig config);

  // One pass at time `now` (unix seconds). Failures are reported in the returned health (and
  // logged), never thrown away: an unreachable origin or a refused manifest leaves the served
  // files as they are, except those past their next_update, which are always removed.
  Health RunPass(int64_t now);

  // When the next pass is due: `interval` after now, or earlier when a served file's next_update
  // comes first (it is removed at that second, not up to an interval later).
  int64_t NextPassAt(int64_t now) const;

  const MirrorConfig& config() const { return config_; }

 private:
  Mirror(MirrorConfig config, ServedDir dir, HttpFetcher fetcher)
      : config_(std::move(config)), dir_(std::move(dir)), fetcher_(std::move(fetcher)) {}

  // Fetches the origin's manifest into accepted_: kNew, kUnchanged (HTTP 304), or kNone (with
  // health.last_error set) when it could not be fetched or was refused.
  enum class Fetched { kNone, kUnchanged, kNew };
  Fetched FetchManifest(Health& health);
  // Brings the served files in line with `target`; false if some file could not be installed.
  bool Apply(const Manifest& target, int64_t now, std::string& error);
  Status FetchAndInstall(const ManifestEntry& entry);
  void DropExpired(int64_t now);
  void RemoveServed(const std::string& path, std::string_view why);
  Status WriteOwnFiles(const Health& health);
  void FillHealth(Health& health, int64_t now) const;

  MirrorConfig config_;
  ServedDir dir_;
  HttpFetcher fetcher_;
  std::map<std::string, ManifestEntry, std::less<>> served_;  // exactly what is on disk
  std::optional<Manifest> accepted_;  // the origin's last accepted manifest (or the restored one)
  std::string manifest_etag_;
  std::optional<int64_t> last_success_;
  bool synced_ = false;  // served_ matched accepted_ after the last Apply: a 304 needs no walk
  std::set<std::string, std::less<>> expired_;  // listed by accepted_, dropped past next_update
  bool served_changed_ = true;                  // manifest.json to rewrite
  std::optional<HealthStatus> last_status_;     // logs on changes, not every pass
  std::string last_logged_error_;
};

}  // namespace ca::crl_ocsp::mirror
