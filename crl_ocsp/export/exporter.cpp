#include "crl_ocsp/export/exporter.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/encoding.h"
#include "common/log.h"
#include "crl_ocsp/crl_scope.h"
#include "crl_ocsp/export/atomic_file.h"
#include "crl_ocsp/export/ocsp_get_path.h"

namespace ca::crl_ocsp::exporter {

namespace fs = std::filesystem;

// What one pass builds; swapped into the exporter at its end.
struct Exporter::Pass {
  explicit Pass(const std::string& root) : batch(root) {}
  Time now{};
  PassStats stats;
  std::unordered_map<std::string, Exported> files;
  std::unordered_map<std::string, std::array<std::string, 2>> ocsp_paths;
  AtomicBatch batch;  // files written, renamed into place at each Commit
  std::vector<std::pair<std::string, Exported>> batched;  // what the batch holds
};

namespace {
constexpr size_t kBatchFiles = 4096;  // one pair of filesystem flushes per this many files
}  // namespace

namespace {

// Still present with the manifest's size: the file the manifest describes (files are replaced
// whole, so a matching size after a clean pass means the same bytes).
bool StillExported(const std::string& root, const ManifestFile& f) {
  struct stat st {};
  return ::stat((fs::path(root) / f.path).c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         static_cast<uint64_t>(st.st_size) == f.size;
}

std::string ReadSmallFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

Result<Exporter> Exporter::Open(const kv::Env& env, const StoreDbs& dbs, ExportOptions options) {
  for (const std::string& name : options.issuers) CA_TRY_STATUS(CheckIssuerName(name));
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec)
    return Fail(ErrorCode::kIo, "create export directory " + options.dir + ": " + ec.message());
  fs::remove_all(fs::path(options.dir) / kStagingDir, ec);  // a crashed pass's temporary files
  Exporter exporter(env, dbs, std::move(options));
  fs::path manifest_path = fs::path(exporter.options_.dir) / kManifestName;
  if (struct stat st{}; ::stat(manifest_path.c_str(), &st) == 0) {
    exporter.manifest_mtime_ = pki::FromUnix(st.st_mtime);  // the next manifest's is later
    auto previous = ParseManifest(ReadSmallFile(manifest_path));
    if (!previous) {
      log::Warn("export_manifest_unreadable", {{"error", previous.error().ToString()}});
    } else {
      for (const ManifestFile& f : previous->files) {
        if (StillExported(exporter.options_.dir, f)) {
          exporter.files_[f.path] = {f.sha256, f.size, f.next_update};
        }
      }
    }
  }
  return exporter;
}

Status Exporter::Offer(Pass& pass, const std::string& path, std::string_view der,
                       std::span<const uint8_t, 32> sha256, Time this_update, Time next_update) {
  Exported want{{}, der.size(), next_update};
  std::copy(sha256.begin(), sha256.end(), want.sha256.begin());
  auto it = files_.find(path);
  if (it == files_.end() || it->second.sha256 != want.sha256 || it->second.size != want.size) {
    CA_TRY_STATUS(pass.batch.Add(path, AsBytes(der), this_update));
    pass.batched.emplace_back(path, want);
    ++pass.stats.written;
    if (pass.batch.pending() >= kBatchFiles) CA_TRY_STATUS(CommitBatch(pass));
  }
  pass.files[path] = want;
  return {};
}

Status Exporter::CommitBatch(Pass& pass) {
  CA_TRY_STATUS(pass.batch.Commit());
  for (auto& [path, state] : pass.batched)
    files_[path] = state;  // on disk now, even if the pass fails later
  pass.batched.clear();
  return {};
}

Status Exporter::ExportIssuer(Pass& pass, std::string_view name, std::string_view cert_der) {
  auto cached = issuers_.find(name);
  if (cached == issuers_.end()) {
    ossl::X509Ptr cert = CA_TRY(ossl::CertFromDer(AsBytes(cert_der)));
    cached = issuers_.emplace(std::string(name), std::move(cert)).first;
  }
  const X509* issuer = cached->second.get();
  Time not_before = CA_TRY(pki::FromAsn1Time(X509_get0_notBefore(issuer)));
  Time not_after = CA_TRY(pki::FromAsn1Time(X509_get0_notAfter(issuer)));
  Bytes cert_sha = Sha256(cert_der);
  CA_TRY_STATUS(Offer(pass, "ca/" + std::string(name) + ".der", cert_der,
                      std::span<const uint8_t, 32>(cert_sha.data(), 32), not_before, not_after));

  // Kept only while a cache honouring the site's max-age can not hold it past nextUpdate.
  auto fresh = [&](Time next_update) {
    bool keep = next_update - pass.now > options_.keep_margin;
    if (keep &&
        (!pass.stats.earliest_next_update || next_update < *pass.stats.earliest_next_update))
      pass.stats.earliest_next_update = next_update;
    if (!keep) ++pass.stats.withheld;
    return keep;
  };
  Status inner;
  CA_TRY_STATUS(ForEachCrl(*env_txn_, dbs_, name, [&](CrlScope scope, const StoredCrl& crl) {
    if (!fresh(crl.info.next_update)) return true;
    inner = Offer(pass, CrlRelativePath(name, scope), crl.der, crl.body_sha256,
                  crl.info.this_update, crl.info.next_update);
    return inner.has_value();
  }));
  CA_TRY_STATUS(inner);
  std::string key = std::string(name) + '\0';
  CA_TRY_STATUS(ForEachResponse(
      *env_txn_, dbs_, name, [&](std::span<const uint8_t> serial, const StoredResponse& r) {
        if (r.cert_not_after <= pass.now) return true;  // expired certificate: nobody asks
        if (!fresh(r.next_update)) return true;
        key.resize(name.size() + 1);
        key.append(AsString(serial));
        auto known = ocsp_paths_.find(key);
        std::array<std::string, 2> paths;
        if (known != ocsp_paths_.end()) {
          paths = known->second;
        } else {
          auto computed = OcspExportPaths(issuer, serial);
          if (!computed) {
            inner = std::unexpected(computed.error());
            return false;
          }
          paths = *computed;
        }
        for (const std::string& path : paths) {
          inner = Offer(pass, path, r.der, r.body_sha256, r.this_update, r.next_update);
          if (!inner) return false;
        }
        pass.ocsp_paths.emplace(key, std::move(paths));
        return true;
      }));
  return inner;
}

Result<PassStats> Exporter::RunPass(Time now) {
  Pass pass(options_.dir);
  pass.now = now;
  {
    kv::Txn txn = CA_TRY(kv::Txn::BeginRead(*env_));
    env_txn_ = &txn;
    std::vector<std::pair<std::string, std::string>> issuers;  // name, certificate DER
    CA_TRY_STATUS(txn.ForEach(dbs_.issuers, "", [&](std::string_view k, std::string_view v) {
      if (options_.issuers.empty() ||
          std::find(options_.issuers.begin(), options_.issuers.end(), k) != options_.issuers.end())
        issuers.emplace_back(k, v);
      return true;
    }));
    for (const std::string& want : options_.issuers) {
      if (std::none_of(issuers.begin(), issuers.end(), [&](auto& i) { return i.first == want; }))
        pass.stats.missing.push_back(want);
    }
    for (const auto& [name, der] : issuers) {
      Status done = ExportIssuer(pass, name, der);
      if (!done) {
        env_txn_ = nullptr;
        return std::unexpected(done.error());
      }
    }
    env_txn_ = nullptr;
  }
  CA_TRY_STATUS(CommitBatch(pass));
  std::vector<std::string> gone;
  for (const auto& [path, state] : files_) {
    if (!pass.files.contains(path)) gone.push_back(path);
  }
  for (const std::string& path : gone) {
    CA_TRY_STATUS(RemoveExportedFile(options_.dir, path));
    files_.erase(path);
    ++pass.stats.removed;
  }
  // Removals durable before a manifest that no longer lists them (a removed file that came back
  // after a crash would never be removed again).
  if (!gone.empty()) CA_TRY_STATUS(SyncExport(options_.dir));
  files_ = std::move(pass.files);
  ocsp_paths_ = std::move(pass.ocsp_paths);
  CA_TRY_STATUS(WriteManifest(now));
  pass.stats.files = files_.size();
  last_success_ = now;
  return std::move(pass.stats);
}

Status Exporter::WriteManifest(Time now) {
  Manifest m{now, {}};
  m.files.reserve(files_.size());
  for (const auto& [path, state] : files_) {
    m.files.push_back({path, state.sha256, state.size, state.next_update});
  }
  std::sort(m.files.begin(), m.files.end(),
            [](const ManifestFile& a, const ManifestFile& b) { return a.path < b.path; });
  Time mtime = now;
  if (manifest_mtime_ && mtime <= *manifest_mtime_)
    mtime = *manifest_mtime_ + std::chrono::seconds(1);
  CA_TRY_STATUS(WriteFileAtomic(options_.dir, kManifestName, AsBytes(ManifestJson(m)), mtime));
  manifest_mtime_ = mtime;
  return Ok();
}

Status Exporter::WriteHealth(const Result<PassStats>& pass, Time now, double pass_seconds) {
  nlohmann::json j{{"generated_at", pki::ToUnix(now)}, {"pass_seconds", pass_seconds}};
  if (last_success_) j["last_success_at"] = pki::ToUnix(*last_success_);
  if (!pass) {
    j["status"] = "error";
    j["error"] = pass.error().ToString();
  } else {
    const PassStats& s = *pass;
    j["status"] = s.missing.empty() && s.withheld == 0 ? "ok" : "unhealthy";
    j["files"] = s.files;
    j["written"] = s.written;
    j["removed"] = s.removed;
    j["withheld_stale"] = s.withheld;
    j["missing_issuers"] = s.missing;
    if (s.earliest_next_update) j["earliest_next_update"] = pki::ToUnix(*s.earliest_next_update);
  }
  return WriteFileAtomic(options_.dir, kHealthName, AsBytes(j.dump() + "\n"), now);
}

}  // namespace ca::crl_ocsp::exporter
