// ca-status-server configuration (JSON file, see crl_ocsp/README.md).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ca::crl_ocsp::server {

struct ServerConfig {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (logged in the "listening" event)
  std::string store_path;
  std::vector<std::string>
      issuers;  // names served (OCSP and /crl/<name>.crl) and watched by /health
  std::chrono::seconds max_age{600};  // Cache-Control max-age cap (also <= nextUpdate - now)
  unsigned threads = 0;               // 0: one per core
  std::chrono::seconds connection_timeout{30};
  // CRL shards by issuer (the engine's crl_shards): /health reports a shard below the count that
  // is missing. An issuer not listed expects none (published shards are still served and watched).
  std::map<std::string, uint32_t, std::less<>> crl_shards;
  uint32_t CrlShardsOf(std::string_view issuer) const {
    auto it = crl_shards.find(issuer);
    return it == crl_shards.end() ? 0 : it->second;
  }
};

// Unknown keys and wrong types are refused with one message naming the key.
Result<ServerConfig> ParseServerConfig(std::string_view json_text);
Result<ServerConfig> LoadServerConfig(const std::string& path);

}  // namespace ca::crl_ocsp::server
