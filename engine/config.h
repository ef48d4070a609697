// ca-engine's JSON configuration. Example:
// {
//   "socket_path": "/run/ca-engine/engine.sock", "socket_group": "ca-gateway",
//   "allowed_peer_uids": [998],
//   "channel": {"cert": "/etc/ca-engine/channel/engine.crt", "key": "/etc/ca-engine/channel/engine.key",
//               "client_fingerprints": ["<sha256 hex of client.crt>"],
//               "peer_listen": "10.0.0.1:7443",        optional (pair): TCP for the peer's gateway,
//               "peer_client_fingerprints": ["<hex>"]}, with peer_listen: the TCP listener's own pins
//   "hsm": {"module": "/usr/lib/softhsm/libsofthsm2.so", "token_label": "ca", "pin": "file:/etc/ca-engine/pin",
//           "pool_size": 2},
//   "policy_store": "/var/lib/ca-policy",
//   "mac_wrap_key_label": "mac-wrap",                       optional: EAB verified in the HSM
//   "test_hooks": false,
//   "audit_log": "/var/lib/acme-ca/audit/engine.jsonl",   optional: hash-chained audit file
//   "metrics_file": "/var/lib/acme-ca/metrics/engine.prom", optional: Prometheus text file
//   "metrics_interval_seconds": 5,                          optional, 1..3600
//   "ha": {"node_name": "ca-1", "lease_ttl_seconds": 10},   optional: engine pair, pg: stores only
//   "instances": {
//     "production": {"store": "...", "status_store": "...", "issuer_name": "int-1", "profiles_dir": "...",
//                    "intermediate_key_label": "...", "intermediate_cert": "int.pem", "chain": "chain.pem",
//                    "ocsp_key_label": "...", "ocsp_cert": "ocsp.pem",
//                    "ocsp_url": "http://...", "ca_issuers_url": "http://...", "crl_url": "http://...",
//                    "crl_shards": 16,   optional, 0..1024 (0: no shards, the CRLDP is crl_url)
//                    "hsm": {...optional, defaults to the top-level one...}},
//     "staging": {...optional, same fields...}
//   }
// }
// An instance's store and status_store are both directories (LMDB, one box) or both
// "pg:<service>/<namespace>" (PostgreSQL, issue 20's pair; node_name defaults to the host name).
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "engine/api/contract.h"

namespace ca::engine {

struct HsmConfig {
  std::string module = "/usr/lib/softhsm/libsofthsm2.so";
  std::string token_label;
  std::string pin;  // "file:/path" or "env:NAME"
  size_t pool_size = 2;
};

struct InstanceConfig {
  std::string store, status_store, issuer_name, profiles_dir;
  std::string intermediate_key_label, intermediate_cert, chain;
  std::string ocsp_key_label, ocsp_cert;
  std::string ocsp_url, ca_issuers_url, crl_url;
  uint32_t crl_shards = 0;  // partitioned CRLs (crl_ocsp/crl_scope.h); 0: the full CRL only
  // Staging instance only, "staging_access": "per-account" (default: an external account needs the
  // RA's `staging` grant, profiles/policy/decision.h) or "all"; the staging gateway's setting.
  bool staging_grant_required = false;
  HsmConfig hsm;
};

// The engine pair (engine/lease_keeper.h): with PostgreSQL stores each instance's engine signs only
// while it holds the lease "engine-<environment>"; the other node is its standby.
struct HaConfig {
  std::string node_name;  // empty: the host name (DefaultNodeName)
  int lease_ttl_seconds = 10;
};

struct EngineConfig {
  std::string socket_path;
  std::optional<gid_t> socket_group;
  std::vector<uid_t> allowed_peer_uids;
  std::string channel_cert, channel_key;
  std::vector<std::string> client_fingerprints;
  // Pair (issue 20): the TCP listener for the peer node's gateway and the client certificates it
  // accepts (mutual TLS is its only authentication). Empty: Unix socket only.
  std::string peer_listen;
  std::vector<std::string> peer_client_fingerprints;
  std::string policy_store;
  // The unwrapping key the EAB MAC keys are wrapped to, on the production instance's token
  // (ceremony `mac-wrap`); empty: EAB verification requests are refused (kUnavailable).
  std::string mac_wrap_key_label;
  bool test_hooks = false;  // enables CA_ENGINE_CRASH_AT and SIGUSR1 HSM fault injection
  std::string audit_log;     // empty: no audit file (the journal only)
  std::string metrics_file;  // empty: no metrics file
  int metrics_interval_seconds = 5;
  HaConfig ha;
  std::map<engine::api::CaEnvironment, InstanceConfig> instances;
};

// Parses and checks the whole file; the first defect is one kInvalidArgument line naming the field.
Result<EngineConfig> LoadEngineConfig(const std::string& path);
Result<EngineConfig> ParseEngineConfig(std::string_view text);

}  // namespace ca::engine
