// ca-dashboard's configuration (JSON file; dashboard/README.md lists the keys).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "reports/ledger.h"

namespace ca::dashboard {

struct DashboardConfig {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 8443;  // 0: any free port (logged in the "listening" event)
  std::string tls_cert_path, tls_key_path;  // PEM: the certificate (chain) and its key
  std::string policy_store;                 // opened read-only
  reports::AuditSources audit;              // the audit files the ledger reads
  int64_t session_ttl_seconds = 8 * 3600;
  unsigned threads = 2;
};

// Unknown keys and wrong types are refused with one message naming the key.
Result<DashboardConfig> ParseDashboardConfig(std::string_view json_text);
Result<DashboardConfig> LoadDashboardConfig(const std::string& path);

}  // namespace ca::dashboard
