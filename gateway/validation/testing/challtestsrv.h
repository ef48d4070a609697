// Test-only: a pebble-challtestsrv process on 127.0.0.1 free ports (DNS, http-01, tls-alpn-01,
// management), started by the fixture and stopped by PID.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace ca::gateway::validation::testing {

// A port that was free on 127.0.0.1 for both TCP and UDP a moment ago.
Result<uint16_t> FreePort();

class ChallTestSrv {
 public:
  // default_ipv4: answer to A queries without a mock (AAAA queries get no answer).
  static Result<std::unique_ptr<ChallTestSrv>> Start(const std::string& default_ipv4 = "127.0.0.1");
  ~ChallTestSrv();  // SIGTERM to the PID, then waitpid

  // POST http://127.0.0.1:<management>/<endpoint> with the JSON body; fails on non-200.
  Status Post(const std::string& endpoint, const nlohmann::json& body) const;

  std::string dns_address() const { return "127.0.0.1:" + std::to_string(dns_port); }

  uint16_t dns_port = 0, http01_port = 0, tlsalpn01_port = 0, management_port = 0;
  pid_t pid = -1;
};

}  // namespace ca::gateway::validation::testing
