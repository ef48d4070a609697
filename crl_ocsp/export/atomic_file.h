// Files of the static export, replaced atomically: a web server reading the directory sees the old
// file or the new one, never a partial one, and after a crash the directory holds whole files.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "crl_ocsp/revocation.h"

namespace ca::crl_ocsp::exporter {

// Where temporary files are made (same filesystem as the export, so rename() is atomic; outside
// the served folders ocsp/, crl/, ca/).
inline constexpr std::string_view kStagingDir = ".staging";

// Writes root/relative (parent directories made, mode 0755) through a temporary file in
// root/.staging: write, fsync, mode 0644, mtime = `mtime` (a web server's Last-Modified), rename
// over the old file, fsync of the directory. On error nothing replaces the old file.
Status WriteFileAtomic(const std::string& root, std::string_view relative,
                       std::span<const uint8_t> data, Time mtime);

// Many files replaced with two filesystem flushes instead of two fsyncs each (a first export
// writes two files per certificate): Add writes a temporary file in root/.staging (mode 0644,
// mtime); Commit flushes the filesystem (syncfs), renames every file over its target, and flushes
// again so that the renames are durable before the caller describes them in a manifest. A
// reader sees the old file or the new one, never a part. Uncommitted files are removed by the
// destructor.
class AtomicBatch {
 public:
  explicit AtomicBatch(std::string root) : root_(std::move(root)) {}
  ~AtomicBatch();
  AtomicBatch(const AtomicBatch&) = delete;
  AtomicBatch& operator=(const AtomicBatch&) = delete;

  Status Add(std::string_view relative, std::span<const uint8_t> data, Time mtime);
  Status Commit();
  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    std::string temp, target;
  };
  std::string root_;
  std::vector<Pending> pending_;
};

// Flushes the export's filesystem (syncfs): removals and renames before a manifest.
Status SyncExport(const std::string& root);

// Removes root/relative (absent is fine) and then its parent directories that became empty, up
// to but not including the first path segment ("ocsp", "crl", "ca").
Status RemoveExportedFile(const std::string& root, std::string_view relative);

}  // namespace ca::crl_ocsp::exporter
