// Files of the static export, replaced atomically: a web server reading the directory sees the old
// file or the new one, never a partial one, and after a crash the directory holds whole files.
#pragma once

#include <span>
#include <string>
#include <string_view>

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

// Removes root/relative (absent is fine) and then its parent directories that became empty, up
// to but not including the first path segment ("ocsp", "crl", "ca").
Status RemoveExportedFile(const std::string& root, std::string_view relative);

}  // namespace ca::crl_ocsp::exporter
