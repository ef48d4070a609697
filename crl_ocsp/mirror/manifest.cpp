#include "crl_ocsp/mirror/manifest.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "pki/json_fields.h"

namespace ca::crl_ocsp::mirror {
namespace {

bool IsPathChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '=' || c == '+';
}

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<ManifestEntry> ParseEntry(const nlohmann::json& item, size_t index) {
  std::string where = "manifest.files[" + std::to_string(index) + "]";
  auto f = CA_TRY(pki::JsonFields::Of(item, where, ErrorCode::kInvalidArgument));
  ManifestEntry e;
  std::string path = CA_TRY(f.String("path"));
  auto normalized = NormalizeExportPath(path);
  if (!normalized) return f.Bad("path", normalized.error().message);
  e.path = std::move(*normalized);
  e.sha256_hex = CA_TRY(f.String("sha256"));
  if (e.sha256_hex.size() != 64 || !IsLowerHex(e.sha256_hex))
    return f.Bad("sha256", "expected 64 lower-case hex digits");
  e.size = CA_TRY(f.Uint("size"));
  e.next_update = CA_TRY(f.Int("next_update"));
  if (e.next_update < 0) return f.Bad("next_update", "negative");
  CA_TRY_STATUS(f.RefuseUnknown());
  return e;
}

// After sorting, a path that is a directory of another sorts right before one of its children
// ("a/b" < "a/b/c"), but "a/b-x" may sit between them, so compare each path with the following
// ones while they share its prefix.
Status CheckFileDirectoryClashes(const std::vector<ManifestEntry>& files) {
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& p = files[i].path;
    for (size_t j = i + 1; j < files.size() && files[j].path.starts_with(p); ++j) {
      if (files[j].path.size() == p.size())
        return Fail(ErrorCode::kInvalidArgument, "manifest lists '" + p + "' twice");
      if (files[j].path[p.size()] == '/')
        return Fail(
            ErrorCode::kInvalidArgument,
            "manifest lists '" + p + "' as a file and as the directory of '" + files[j].path + "'");
    }
  }
  return Ok();
}

}  // namespace

Result<std::string> NormalizeExportPath(std::string_view path) {
  auto bad = [&](std::string_view why) {
    return Fail(ErrorCode::kInvalidArgument,
                "path '" + std::string(path.substr(0, 200)) + "' " + std::string(why));
  };
  if (path.empty()) return bad("is empty");
  if (path.size() > kMaxPathBytes) return bad("is longer than 1024 bytes");
  if (path.front() == '/') return bad("is absolute");
  if (path.back() == '/') return bad("names a directory");
  std::string out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    start = end + 1;
    if (part.empty()) continue;
    if (part == "." || part == "..")
      return bad("escapes the directory ('" + std::string(part) + "')");
    if (part.front() == '.') return bad("has a hidden component");
    if (part.size() > 255) return bad("has a component longer than 255 bytes");
    if (!std::all_of(part.begin(), part.end(), IsPathChar))
      return bad("has a character outside [A-Za-z0-9._=+-]");
    if (!out.empty()) out += '/';
    out += part;
  }
  if (out == kManifestName || out == kHealthName) return bad("is one of the replica's own files");
  return out;
}

Result<Manifest> ParseManifest(std::string_view text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, std::string("manifest is not JSON: ") + e.what());
  }
  auto f = CA_TRY(pki::JsonFields::Of(j, "manifest", ErrorCode::kInvalidArgument));
  Manifest m;
  m.generated_at = CA_TRY(f.Int("generated_at"));
  const nlohmann::json* files = CA_TRY(f.OptionalArray("files"));
  if (!files) return f.Bad("files", "missing");
  CA_TRY_STATUS(f.RefuseUnknown());
  m.files.reserve(files->size());
  for (size_t i = 0; i < files->size(); ++i) m.files.push_back(CA_TRY(ParseEntry((*files)[i], i)));
  std::sort(m.files.begin(), m.files.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.path < b.path; });
  CA_TRY_STATUS(CheckFileDirectoryClashes(m.files));
  return m;
}

std::string ManifestToJson(const Manifest& manifest) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& e : manifest.files)
    files.push_back({{"path", e.path},
                     {"sha256", e.sha256_hex},
                     {"size", e.size},
                     {"next_update", e.next_update}});
  nlohmann::json j = {{"generated_at", manifest.generated_at}, {"files", std::move(files)}};
  return j.dump() + "\n";
}

}  // namespace ca::crl_ocsp::mirror
