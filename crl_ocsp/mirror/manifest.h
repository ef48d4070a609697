// The export's manifest.json: what a replica must serve, each file's SHA-256, size and the moment
// it stops being valid (its nextUpdate). Parsed strictly: a manifest with one bad entry (a path
// escaping the directory, a bad digest, a duplicate) is refused whole, so a replica never applies
// half of a suspicious manifest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ca::crl_ocsp::mirror {

struct ManifestEntry {
  std::string path;        // normalized relative path ("crl/ca/3.crl"), see NormalizeExportPath
  std::string sha256_hex;  // 64 lower-case hex digits
  uint64_t size = 0;
  int64_t next_update = 0;  // unix seconds; the file must not be served from then on

  bool SameContent(const ManifestEntry& o) const {
    return sha256_hex == o.sha256_hex && size == o.size;
  }
};

struct Manifest {
  int64_t generated_at = 0;
  std::vector<ManifestEntry> files;  // sorted by path, paths unique
};

// The files a replica writes itself at the root of its directory; no manifest entry may use them.
inline constexpr std::string_view kManifestName = "manifest.json";
inline constexpr std::string_view kHealthName = "health.json";

inline constexpr size_t kMaxPathBytes = 1024;

// A manifest path as the replica stores it: relative, components of [A-Za-z0-9._=+-] not starting
// with '.' (so no "." / ".." and no hidden or temporary names), empty components collapsed ("a//b"
// is "a/b", as the file system and nginx's merge_slashes see it: base64 OCSP paths can hold "//"),
// no leading '/', not ending in '/', not one of the replica's own files. kInvalidArgument naming
// the path otherwise.
Result<std::string> NormalizeExportPath(std::string_view path);

// Parses and checks manifest.json. Also refuses: unknown fields, a negative size or next_update, a
// path that is both a file and a directory of another ("crl/ca" and "crl/ca/1.crl"), duplicates
// after normalization. Entries come back sorted by path.
Result<Manifest> ParseManifest(std::string_view text);

// The JSON the replica writes for what it serves (same schema, so a replica can be another
// replica's origin).
std::string ManifestToJson(const Manifest& manifest);

}  // namespace ca::crl_ocsp::mirror
