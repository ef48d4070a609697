#include "crl_ocsp/server/config.h"

#include <arpa/inet.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/openssl.h"
#include "crl_ocsp/status_store.h"

namespace ca::crl_ocsp::server {

Result<ServerConfig> ParseServerConfig(std::string_view json_text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, std::string("config is not JSON: ") + e.what());
  }
  if (!j.is_object()) return Fail(ErrorCode::kInvalidArgument, "config must be a JSON object");
  static const std::set<std::string> kKeys{"listen_address",
                                           "port",
                                           "store",
                                           "issuers",
                                           "max_age_seconds",
                                           "threads",
                                           "connection_timeout_seconds"};
  for (const auto& [key, value] : j.items()) {
    if (!kKeys.contains(key))
      return Fail(ErrorCode::kInvalidArgument, "config: unknown key '" + key + "'");
  }
  ServerConfig c;
  auto bad = [](std::string_view key, std::string_view want) {
    return Fail(ErrorCode::kInvalidArgument,
                "config: '" + std::string(key) + "' must be " + std::string(want));
  };
  if (j.contains("listen_address")) {
    if (!j["listen_address"].is_string()) return bad("listen_address", "a string");
    c.listen_address = j["listen_address"].get<std::string>();
    in_addr a{};
    if (inet_pton(AF_INET, c.listen_address.c_str(), &a) != 1) {
      return bad("listen_address", "an IPv4 address");
    }
  }
  if (j.contains("port")) {
    if (!j["port"].is_number_unsigned() || j["port"].get<uint64_t>() > 65535) {
      return bad("port", "an integer 0-65535");
    }
    c.port = static_cast<uint16_t>(j["port"].get<uint64_t>());
  }
  if (!j.contains("store") || !j["store"].is_string() || j["store"].get<std::string>().empty()) {
    return bad("store", "the status store directory");
  }
  c.store_path = j["store"].get<std::string>();
  if (!j.contains("issuers") || !j["issuers"].is_array() || j["issuers"].empty()) {
    return bad("issuers", "a non-empty array of issuer names");
  }
  for (const auto& name : j["issuers"]) {
    if (!name.is_string()) return bad("issuers", "an array of strings");
    std::string n = name.get<std::string>();
    if (auto s = CheckIssuerName(n); !s)
      return Fail(ErrorCode::kInvalidArgument, "config: " + s.error().message);
    c.issuers.push_back(std::move(n));
  }
  if (j.contains("max_age_seconds")) {
    if (!j["max_age_seconds"].is_number_unsigned())
      return bad("max_age_seconds", "a non-negative integer");
    c.max_age = std::chrono::seconds(j["max_age_seconds"].get<uint64_t>());
  }
  if (j.contains("threads")) {
    if (!j["threads"].is_number_unsigned() || j["threads"].get<uint64_t>() > 256) {
      return bad("threads", "an integer 0-256");
    }
    c.threads = static_cast<unsigned>(j["threads"].get<uint64_t>());
  }
  if (c.threads == 0) c.threads = std::max(1u, std::thread::hardware_concurrency());
  if (j.contains("connection_timeout_seconds")) {
    if (!j["connection_timeout_seconds"].is_number_unsigned()) {
      return bad("connection_timeout_seconds", "a non-negative integer");
    }
    c.connection_timeout = std::chrono::seconds(j["connection_timeout_seconds"].get<uint64_t>());
  }
  return c;
}

Result<ServerConfig> LoadServerConfig(const std::string& path) {
  std::string text = CA_TRY(ossl::ReadFile(path));
  return ParseServerConfig(text);
}

}  // namespace ca::crl_ocsp::server
