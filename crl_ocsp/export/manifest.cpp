#include "crl_ocsp/export/manifest.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/encoding.h"

namespace ca::crl_ocsp::exporter {

std::string ManifestJson(const Manifest& manifest) {
  nlohmann::json files = nlohmann::json::array();
  for (const ManifestFile& f : manifest.files) {
    files.push_back({{"path", f.path},
                     {"sha256", HexEncode(f.sha256)},
                     {"size", f.size},
                     {"next_update", pki::ToUnix(f.next_update)}});
  }
  nlohmann::json j{{"generated_at", pki::ToUnix(manifest.generated_at)}, {"files", files}};
  return j.dump() + "\n";
}

Result<Manifest> ParseManifest(std::string_view json) {
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  auto bad = [](std::string_view why) {
    return Fail(ErrorCode::kInvalidArgument, "manifest: " + std::string(why));
  };
  if (!j.is_object() || !j.contains("generated_at") || !j["generated_at"].is_number_integer() ||
      !j.contains("files") || !j["files"].is_array()) {
    return bad("not {\"generated_at\": <unix>, \"files\": [...]}");
  }
  Manifest m;
  m.generated_at = pki::FromUnix(j["generated_at"].get<int64_t>());
  for (const auto& f : j["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("sha256") ||
        !f["sha256"].is_string() || !f.contains("size") || !f["size"].is_number_unsigned() ||
        !f.contains("next_update") || !f["next_update"].is_number_integer()) {
      return bad("a file entry lacks path, sha256, size or next_update");
    }
    auto sha = HexDecode(f["sha256"].get<std::string>());
    if (!sha || sha->size() != 32) return bad("sha256 is not 64 hex digits");
    ManifestFile file{f["path"].get<std::string>(),
                      {},
                      f["size"].get<uint64_t>(),
                      pki::FromUnix(f["next_update"].get<int64_t>())};
    std::copy(sha->begin(), sha->end(), file.sha256.begin());
    m.files.push_back(std::move(file));
  }
  return m;
}

}  // namespace ca::crl_ocsp::exporter
