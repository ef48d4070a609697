// The engine's metrics. The engine has no network (PrivateNetwork=yes, AF_UNIX only), so they are
// not served over HTTP: the engine writes them in the Prometheus text format to a file, atomically
// (temporary file + rename) every few seconds, for node_exporter's textfile collector
// (docs/OPERATOR_GUIDE.md, "Metrics").
//
// Counters are relaxed atomics in fixed arrays: no lock and no allocation on the issuance path.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "engine/replication_watch.h"
#include "profiles/policy/profile_id.h"

namespace ca::engine {

// Which HSM key signed: the intermediate's (certificates and CRLs) or the OCSP signer's.
enum class SignerKey { kIssuer, kOcsp };

// One issuer's current CRL, for the gauges.
struct CrlGauge {
  std::string environment, issuer;
  uint64_t number = 0;
  int64_t this_update = 0, next_update = 0;  // unix seconds
  uint64_t entries = 0;
};

// One instance's engine-pair state (issue 20), for the gauges; none on a single box.
struct HaGauge {
  std::string environment, lease, node;
  bool active = false;
  uint64_t epoch = 0;           // the lease's epoch while held, else 0
  uint64_t takeovers = 0;       // times this node became active
  uint64_t renew_failures = 0;  // acquire/renew calls that failed (database unreachable)
  uint64_t losses = 0;          // times the store said another node holds it while this one did
  std::optional<ReplicationSnapshot> db;  // the database's replication (engine/replication_watch.h)
};

class EngineMetrics {
 public:
  // Upper bounds (seconds) of the HSM signature latency histogram's buckets (+Inf implied).
  static constexpr std::array<double, 12> kSignBuckets = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                          0.05,   0.1,   0.25,  0.5,   1.0,  2.5};
  // Issuance profiles counted by name (profiles::policy::kAllProfiles); any other is "other".
  static constexpr std::array<std::string_view, profiles::policy::kAllProfiles.size() + 1> kProfiles =
      [] {
        std::array<std::string_view, profiles::policy::kAllProfiles.size() + 1> out{};
        for (size_t i = 0; i < profiles::policy::kAllProfiles.size(); ++i)
          out[i] = profiles::policy::ProfileName(profiles::policy::kAllProfiles[i]);
        out.back() = "other";
        return out;
      }();
  // "issued" then the engine's refusal kinds (engine::api::EngineErrorKindName).
  static constexpr std::array<std::string_view, 9> kIssueResults = {
      "issued",          "policy_denied", "bad_csr",     "bad_request", "not_found",
      "already_revoked", "unauthorized",  "unavailable", "internal"};
  static constexpr int kMaxReason = 10;  // RFC 5280 CRLReason codes 0..10

  EngineMetrics();

  void CountIssue(std::string_view profile, std::string_view result);
  void CountRevoked(int reason, uint64_t certificates);  // certificates newly revoked
  void CountRevokeRefused();
  void ObserveSign(SignerKey key, double seconds, bool ok);
  void CountAudit(bool ok);

  // The Prometheus text exposition (format 0.0.4) of every metric, plus the CRL gauges and, for
  // an engine pair, the HA gauges.
  std::string Render(const std::vector<CrlGauge>& crls, int64_t now_unix,
                     const std::vector<HaGauge>& ha = {}) const;

  // Writes Render() to `path` atomically: PATH.tmp in the same directory (mode 0644, readable by
  // the collector whatever the umask), then rename.
  static Status WriteFile(const std::string& path, const std::string& text);

 private:
  static void RenderHa(std::string& out, const std::vector<HaGauge>& ha);
  static void RenderDatabase(std::string& out, const std::vector<HaGauge>& ha);
  struct Histogram {
    std::array<std::atomic<uint64_t>, kSignBuckets.size() + 1> buckets{};  // last: +Inf
    std::atomic<uint64_t> count{0}, sum_ns{0}, errors{0};
  };
  std::array<std::array<std::atomic<uint64_t>, kIssueResults.size()>, kProfiles.size()> issues_{};
  std::array<std::atomic<uint64_t>, kMaxReason + 1> revoked_{};
  std::atomic<uint64_t> revoke_refused_{0};
  std::array<Histogram, 2> sign_{};
  std::atomic<uint64_t> ocsp_signed_{0};
  std::atomic<uint64_t> audit_ok_{0}, audit_failed_{0};
  int64_t started_at_ = 0;
};

}  // namespace ca::engine
