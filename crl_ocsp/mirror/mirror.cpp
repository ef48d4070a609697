#include "crl_ocsp/mirror/mirror.h"

#include <algorithm>

#include "common/encoding.h"
#include "common/log.h"

namespace ca::crl_ocsp::mirror {
namespace {

constexpr size_t kMaxListedInHealth = 100;

std::set<std::string, std::less<>> OwnFiles() {
  return {std::string(kManifestName), std::string(kHealthName)};
}

bool Matches(std::span<const uint8_t> bytes, const ManifestEntry& e) {
  return bytes.size() == e.size && HexEncode(Sha256(bytes)) == e.sha256_hex;
}

}  // namespace

std::string_view HealthStatusName(HealthStatus status) {
  switch (status) {
    case HealthStatus::kOk:
      return "ok";
    case HealthStatus::kOriginUnreachable:
      return "origin_unreachable";
    case HealthStatus::kStale:
      return "stale";
  }
  return "stale";
}

nlohmann::json Health::ToJson() const {
  auto opt = [](const std::optional<int64_t>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json();
  };
  nlohmann::json listed = nlohmann::json::array();
  for (size_t i = 0; i < expired.size() && i < kMaxListedInHealth; ++i)
    listed.push_back(expired[i]);
  return {{"status", HealthStatusName(status)},
          {"origin_reachable", origin_reachable},
          {"last_attempt", last_attempt},
          {"last_success", opt(last_success)},
          {"serving_until", opt(serving_until)},
          {"manifest_generated_at", opt(manifest_generated_at)},
          {"files", files},
          {"expired", std::move(listed)},
          {"expired_count", expired.size()},
          {"last_error", last_error}};
}

Result<Mirror> Mirror::Open(MirrorConfig config) {
  if (config.interval_seconds < 1)
    return Fail(ErrorCode::kInvalidArgument, "the interval must be at least 1 second");
  ServedDir dir = CA_TRY(ServedDir::Open(config.dir));
  HttpFetcher fetcher = CA_TRY(HttpFetcher::Create(config.fetch));
  Mirror m(std::move(config), std::move(dir), std::move(fetcher));
  auto own = CA_TRY(m.dir_.Read(kManifestName, m.config_.max_manifest_bytes));
  if (own) {
    auto restored = ParseManifest(AsString(*own));
    if (!restored) {
      log::Warn("served_manifest_unreadable",
                {{"dir", m.config_.dir}, {"error", restored.error().message}});
    } else {
      for (const auto& e : restored->files) {
        auto bytes = m.dir_.Read(e.path, m.config_.max_file_bytes);
        if (bytes && *bytes && Matches(**bytes, e)) m.served_.emplace(e.path, e);
      }
      m.accepted_ = std::move(*restored);
    }
  }
  auto keep = OwnFiles();
  for (const auto& [path, e] : m.served_) keep.insert(path);
  size_t removed = CA_TRY(m.dir_.Sweep(keep));
  log::Info("mirror_opened", {{"dir", m.config_.dir},
                              {"origin", m.config_.origin},
                              {"files", m.served_.size()},
                              {"removed", removed}});
  return m;
}

Mirror::Fetched Mirror::FetchManifest(Health& health) {
  auto fetched = fetcher_.Get(JoinUrl(config_.origin, kManifestName), config_.max_manifest_bytes,
                              accepted_ ? std::string_view(manifest_etag_) : std::string_view());
  if (!fetched) {
    health.last_error = fetched.error().message;
    return Fetched::kNone;
  }
  health.origin_reachable = true;
  if (fetched->not_modified && accepted_) return Fetched::kUnchanged;
  auto parsed = ParseManifest(AsString(fetched->body));
  std::string refusal;
  if (!parsed)
    refusal = parsed.error().message;
  else if (accepted_ && parsed->generated_at < accepted_->generated_at)
    refusal = "generated_at " + std::to_string(parsed->generated_at) +
              " is older than the manifest already applied (" +
              std::to_string(accepted_->generated_at) + "): a rollback";
  if (!refusal.empty()) {
    health.last_error = "manifest refused, nothing changed: " + refusal;
    if (last_logged_error_ != health.last_error)
      log::Error("manifest_refused", {{"origin", config_.origin}, {"error", refusal}});
    last_logged_error_ = health.last_error;
    return Fetched::kNone;
  }
  manifest_etag_ = fetched->etag;
  accepted_ = std::move(*parsed);
  return Fetched::kNew;
}

Status Mirror::FetchAndInstall(const ManifestEntry& entry) {
  if (entry.size > config_.max_file_bytes)
    return Fail(ErrorCode::kResourceExhausted,
                entry.path + ": " + std::to_string(entry.size) + " bytes, above the limit");
  auto fetched = CA_TRY(fetcher_.Get(JoinUrl(config_.origin, entry.path), entry.size));
  if (fetched.body.size() != entry.size)
    return Fail(ErrorCode::kCorrupt, entry.path + ": " + std::to_string(fetched.body.size()) +
                                         " bytes, the manifest says " + std::to_string(entry.size));
  if (HexEncode(Sha256(fetched.body)) != entry.sha256_hex)
    return Fail(ErrorCode::kCorrupt, entry.path + ": SHA-256 differs from the manifest's");
  return dir_.Install(entry.path, fetched.body);
}

void Mirror::RemoveServed(const std::string& path, std::string_view why) {
  auto removed = dir_.Remove(path);
  if (!removed) log::Error("remove_failed", {{"path", path}, {"error", removed.error().message}});
  served_.erase(path);
  served_changed_ = true;
  if (why == "expired") expired_.insert(path);
}

bool Mirror::Apply(const Manifest& target, int64_t now, std::string& error) {
  std::map<std::string, const ManifestEntry*, std::less<>> listed;
  for (const auto& e : target.files) listed.emplace(e.path, &e);
  // Removals first: a path the target no longer lists may be a directory of one it lists now.
  std::vector<std::string> unlisted;
  for (const auto& [path, e] : served_)
    if (!listed.contains(path)) unlisted.push_back(path);
  for (const auto& path : unlisted) RemoveServed(path, "unlisted");
  std::erase_if(expired_, [&](const std::string& p) { return !listed.contains(p); });

  size_t installed = 0, failed = 0;
  for (const auto& e : target.files) {
    auto current = served_.find(e.path);
    if (e.next_update <= now) {  // the origin lists it past its next_update: never served
      if (current != served_.end()) RemoveServed(e.path, "expired");
      expired_.insert(e.path);
      continue;
    }
    if (current != served_.end() && current->second.SameContent(e)) {
      current->second.next_update = e.next_update;
      continue;
    }
    auto status = FetchAndInstall(e);
    if (!status) {  // the old bytes, if any, stay until their own next_update
      if (failed++ == 0) error = status.error().message;
      continue;
    }
    served_[e.path] = e;
    expired_.erase(e.path);
    served_changed_ = true;
    ++installed;
  }
  if (installed || !unlisted.empty())
    log::Info("mirror_synced", {{"installed", installed},
                                {"removed", unlisted.size()},
                                {"failed", failed},
                                {"generated_at", target.generated_at}});
  if (failed) error = std::to_string(failed) + " file(s) not installed, first: " + error;
  return failed == 0;
}

void Mirror::DropExpired(int64_t now) {
  std::vector<std::string> due;
  for (const auto& [path, e] : served_)
    if (e.next_update <= now) due.push_back(path);
  for (const auto& path : due) RemoveServed(path, "expired");
  if (!due.empty())
    log::Warn("files_expired", {{"count", due.size()},
                                {"first", due.front()},
                                {"note", "past next_update: no longer served"}});
}

void Mirror::FillHealth(Health& health, int64_t now) const {
  health.files = served_.size();
  for (const auto& [path, e] : served_)
    if (!health.serving_until || e.next_update < *health.serving_until)
      health.serving_until = e.next_update;
  if (accepted_) health.manifest_generated_at = accepted_->generated_at;
  health.last_success = last_success_;
  health.expired.assign(expired_.begin(), expired_.end());
  (void)now;
}

Status Mirror::WriteOwnFiles(const Health& health) {
  if (served_changed_) {
    Manifest own{accepted_ ? accepted_->generated_at : 0, {}};
    for (const auto& [path, e] : served_) own.files.push_back(e);
    CA_TRY_STATUS(dir_.Install(kManifestName, AsBytes(ManifestToJson(own))));
    served_changed_ = false;
  }
  return dir_.Install(kHealthName, AsBytes(health.ToJson().dump() + "\n"));
}

Health Mirror::RunPass(int64_t now) {
  Health health;
  health.last_attempt = now;
  Fetched fetched = FetchManifest(health);
  bool in_sync = false;
  if (fetched == Fetched::kUnchanged && synced_) {
    in_sync = true;  // nothing to retry; expiry is handled below
  } else if (fetched != Fetched::kNone) {
    std::string error;
    in_sync = Apply(*accepted_, now, error);
    if (!in_sync) health.last_error = error;
    synced_ = in_sync;
  }
  DropExpired(now);
  if (in_sync) last_success_ = now;
  FillHealth(health, now);
  if (!health.expired.empty())
    health.status = HealthStatus::kStale;
  else if (!in_sync)
    health.status = HealthStatus::kOriginUnreachable;
  if (auto written = WriteOwnFiles(health); !written)
    log::Error("health_write_failed", {{"error", written.error().message}});
  if (last_status_ != health.status) {
    log::Emit(health.status == HealthStatus::kOk ? log::Level::kInfo : log::Level::kWarn,
              "mirror_status", health.ToJson());
    last_status_ = health.status;
  }
  if (in_sync) last_logged_error_.clear();
  return health;
}

int64_t Mirror::NextPassAt(int64_t now) const {
  int64_t next = now + config_.interval_seconds;
  for (const auto& [path, e] : served_) next = std::min(next, e.next_update);
  return std::max(next, now + 1);
}

}  // namespace ca::crl_ocsp::mirror
