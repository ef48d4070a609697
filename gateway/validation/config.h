// Validator configuration: where DNS questions go, which ports responders are reached on, limits,
// the CA's CAA identities and the multi-perspective vantage points (ACME-6).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "gateway/validation/dns_client.h"
#include "gateway/validation/networks.h"

namespace ca::gateway::validation {

// One network perspective. The resolver is queried for every DNS lookup made from this vantage
// point (it is the vantage point's own recursive resolver, so its location is the perspective for
// DNS); source_address, when set, is the local IP address outgoing http-01 / tls-alpn-01
// connections bind to.
struct VantagePoint {
  std::string name;            // for logs and details, e.g. "paris-1"
  std::string resolver;        // "IPv4:port" or "IPv4" (port 53)
  std::string source_address;  // empty: let the kernel choose
};

// A validation agent (ca-validation-agent) in another network zone, asked over mutual TLS
// (remote_client.h). Files are PEM; the key stays in the gateway (read by libcurl, never logged).
struct RemoteAgent {
  std::string name;              // for logs, audit and details, e.g. "dmz"
  std::string url;               // "https://agent.dmz.example:8744/validate"
  std::string client_cert_file;  // the certificate the gateway presents
  std::string client_key_file;
  std::string ca_file;  // the CA that signs agents' server certificates
};

// How many perspectives must succeed: a fixed count, all of them, or all but one (so one dead or
// disagreeing zone is tolerated; with one or two perspectives "all but one" means one).
enum class QuorumRule { kCount, kAll, kAllButOne };

struct ValidatorConfig {
  // Default resolver, used to build the single default vantage point when both vantage_points
  // and remote_agents are empty.
  std::string resolver = "127.0.0.1:53";
  std::vector<VantagePoint> vantage_points;
  std::vector<RemoteAgent> remote_agents;  // perspectives asked over mutual TLS
  size_t quorum = 1;  // with kCount: a check counts only if at least `quorum` perspectives succeed
  QuorumRule quorum_rule = QuorumRule::kCount;

  uint16_t http01_port = 80;      // where http-01 responders are reached (and http:// redirects)
  uint16_t https_port = 443;      // where https:// redirects of http-01 are followed
  uint16_t tlsalpn01_port = 443;  // where tls-alpn-01 responders are reached

  std::chrono::seconds dns_timeout{5};  // per DNS attempt (glibc resolver granularity: seconds)
  int dns_attempts = 2;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{10000};  // whole exchange with one responder
  int max_redirects = 10;
  size_t max_body_bytes = 16 * 1024;
  int max_cname_depth = 8;

  std::vector<std::string> caa_identities;  // e.g. {"acme-ca.example"}; compared case-insensitively

  // Networks http-01 (with its redirects) and tls-alpn-01 may connect to (networks.h has the rules
  // for loopback, link-local and the appliance's own addresses). Empty: those checks always fail
  // with a connection problem naming this setting; dns-01 is unaffected.
  std::vector<IpNetwork> allowed_networks;

  // The local vantage points actually used: vantage_points, or one built from `resolver` when
  // there are neither vantage points nor remote agents.
  std::vector<VantagePoint> EffectiveVantagePoints() const;

  // The number of successful perspectives (local + remote) a check needs under quorum_rule.
  size_t RequiredSuccesses() const;

  // Checks addresses, ports, quorum <= number of vantage points, identities non-empty.
  Status Check() const;

  // Reads the "validation" object of a service config file. Keys (all optional except
  // caa_identities): resolver, vantage_points [{name, resolver, source_address}],
  // remote_agents [{name, url, client_cert_file, client_key_file, ca_file}], quorum (a number,
  // "all" or "all_but_one"),
  // http01_port, https_port, tlsalpn01_port, dns_timeout_seconds, dns_attempts,
  // connect_timeout_ms, io_timeout_ms, max_redirects, max_body_bytes, max_cname_depth,
  // caa_identities, allowed_networks ["CIDR", ...]. Unknown keys are refused. The result has passed
  // Check().
  static Result<ValidatorConfig> FromJson(const nlohmann::json& object);
};

}  // namespace ca::gateway::validation
