// manifest.json and health.json at the export root. The manifest lists every exported file; the
// replicas' mirror agent consumes exactly this format (do not change it):
//   {"generated_at": <unix>, "files": [{"path": "crl/ca/3.crl", "sha256": "<hex>", "size": N,
//                                       "next_update": <unix>}, ...]}
// next_update is the artifact's nextUpdate (a CA certificate's: its notAfter).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "crl_ocsp/revocation.h"

namespace ca::crl_ocsp::exporter {

inline constexpr std::string_view kManifestName = "manifest.json";
inline constexpr std::string_view kHealthName = "health.json";

struct ManifestFile {
  std::string path;  // relative to the export root, '/'-separated
  std::array<uint8_t, 32> sha256{};
  uint64_t size = 0;
  Time next_update{};
};

struct Manifest {
  Time generated_at{};
  std::vector<ManifestFile> files;  // sorted by path
};

std::string ManifestJson(const Manifest& manifest);
// kInvalidArgument for anything that is not this format.
Result<Manifest> ParseManifest(std::string_view json);

}  // namespace ca::crl_ocsp::exporter
