#include "crl_ocsp/crl_scope.h"

#include <charconv>

namespace ca::crl_ocsp {

namespace {

constexpr std::string_view kCrlDir = "crl/";
constexpr std::string_view kCrlSuffix = ".crl";

std::optional<uint32_t> ParseShard(std::string_view text) {
  if (text.empty() || text.size() > 4 || (text.size() > 1 && text.front() == '0')) return {};
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value >= kMaxCrlShards) return {};
  return value;
}

}  // namespace

std::string CrlRelativePath(std::string_view issuer, CrlScope scope) {
  std::string path(kCrlDir);
  path.append(issuer);
  if (scope.shard) path.append("/").append(std::to_string(*scope.shard));
  path.append(kCrlSuffix);
  return path;
}

std::optional<std::pair<std::string, CrlScope>> ParseCrlRelativePath(std::string_view path) {
  if (!path.starts_with(kCrlDir) || !path.ends_with(kCrlSuffix)) return {};
  path.remove_prefix(kCrlDir.size());
  path.remove_suffix(kCrlSuffix.size());
  auto slash = path.find('/');
  if (slash == std::string_view::npos) {
    if (path.empty()) return {};
    return std::pair{std::string(path), CrlScope::Full()};
  }
  std::string_view issuer = path.substr(0, slash);
  auto shard = ParseShard(path.substr(slash + 1));
  if (issuer.empty() || !shard) return {};
  return std::pair{std::string(issuer), CrlScope::Shard(*shard)};
}

Result<std::string> CrlScopeUrl(std::string_view full_crl_url, CrlScope scope) {
  if (!full_crl_url.ends_with(kCrlSuffix) || full_crl_url.size() == kCrlSuffix.size())
    return Fail(ErrorCode::kInvalidArgument,
                "CRL URL must end in \".crl\": " + std::string(full_crl_url));
  if (scope.IsFull()) return std::string(full_crl_url);
  if (*scope.shard >= kMaxCrlShards)
    return Fail(ErrorCode::kInvalidArgument, "CRL shard " + std::to_string(*scope.shard) +
                                                 " is not below " + std::to_string(kMaxCrlShards));
  std::string url(full_crl_url.substr(0, full_crl_url.size() - kCrlSuffix.size()));
  return url + "/" + std::to_string(*scope.shard) + std::string(kCrlSuffix);
}

std::optional<uint32_t> CrlShardOf(const pki::Serial& serial, uint32_t shards) {
  if (shards == 0) return std::nullopt;
  uint64_t low = 0;
  const auto& m = serial.magnitude;
  size_t take = m.size() < 8 ? m.size() : 8;
  for (size_t i = m.size() - take; i < m.size(); ++i) low = (low << 8) | m[i];
  return static_cast<uint32_t>(low % shards);
}

}  // namespace ca::crl_ocsp
