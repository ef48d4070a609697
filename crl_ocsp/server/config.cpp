#include "crl_ocsp/server/config.h"

#include <arpa/inet.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <thread>

#include "common/openssl.h"
#include "crl_ocsp/status_store.h"
#include "pki/json_fields.h"

namespace ca::crl_ocsp::server {

Result<ServerConfig> ParseServerConfig(std::string_view json_text) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded()) return Fail(ErrorCode::kInvalidArgument, "config is not JSON");
  auto f = CA_TRY(pki::JsonFields::Of(j, "config"));
  ServerConfig c;
  if (auto address = CA_TRY(f.OptionalString("listen_address"))) {
    c.listen_address = *address;
    in_addr a{};
    if (inet_pton(AF_INET, c.listen_address.c_str(), &a) != 1) {
      return f.Bad("listen_address", "expected an IPv4 address");
    }
  }
  auto port = f.OptionalUint("port");
  if (!port || (*port && **port > 65535)) return f.Bad("port", "expected an integer 0-65535");
  if (*port) c.port = static_cast<uint16_t>(**port);
  auto store = f.OptionalNonEmptyString("store");
  if (!store || !*store) return f.Bad("store", "expected the status store directory");
  c.store_path = **store;
  c.issuers = CA_TRY(f.StringList("issuers"));
  if (c.issuers.empty()) return f.Bad("issuers", "expected a non-empty array of issuer names");
  for (const auto& name : c.issuers) {
    if (auto s = CheckIssuerName(name); !s)
      return Fail(ErrorCode::kInvalidArgument, "config: " + s.error().message);
  }
  if (auto age = CA_TRY(f.OptionalUint("max_age_seconds"))) c.max_age = std::chrono::seconds(*age);
  auto threads = f.OptionalUint("threads");
  if (!threads || (*threads && **threads > 256))
    return f.Bad("threads", "expected an integer 0-256");
  if (*threads) c.threads = static_cast<unsigned>(**threads);
  if (c.threads == 0) c.threads = std::max(1u, std::thread::hardware_concurrency());
  if (auto timeout = CA_TRY(f.OptionalUint("connection_timeout_seconds"))) {
    c.connection_timeout = std::chrono::seconds(*timeout);
  }
  if (const nlohmann::json* shards = CA_TRY(f.OptionalObject("crl_shards"))) {
    auto g = CA_TRY(pki::JsonFields::Of(*shards, f.PathOf("crl_shards")));
    for (const auto& [issuer, count] : shards->items()) {
      if (std::find(c.issuers.begin(), c.issuers.end(), issuer) == c.issuers.end())
        return g.Bad(issuer, "not one of the issuers served");
      c.crl_shards[issuer] = static_cast<uint32_t>(CA_TRY(g.IntIn(issuer, 0, kMaxCrlShards)));
    }
  }
  CA_TRY_STATUS(f.RefuseUnknown());
  return c;
}

Result<ServerConfig> LoadServerConfig(const std::string& path) {
  std::string text = CA_TRY(ossl::ReadFile(path));
  return ParseServerConfig(text);
}

}  // namespace ca::crl_ocsp::server
