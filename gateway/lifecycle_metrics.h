// Certificates the gateway handed out (by profile) and revoked (by RFC 5280 reason), for its
// /metrics page. The engine counts the same events on its side (engine/metrics.h); these are the
// ACME view (finalize answered "valid", revokeCert answered 200).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace ca::gateway {

class LifecycleMetrics {
 public:
  void CountIssued(const std::string& profile) {
    std::lock_guard lock(mu_);
    ++issued_[profile];
  }
  void CountRevoked(int reason) {
    std::lock_guard lock(mu_);
    ++revoked_[reason];
  }

  // Prometheus text: acme_certificates_issued_total{profile} and
  // acme_revocations_total{reason_code} (RFC 5280 CRLReason code; the engine's metrics file names
  // them).
  std::string Text() const {
    std::lock_guard lock(mu_);
    std::string out =
        "# HELP acme_certificates_issued_total Certificates issued through ACME finalize, by "
        "profile.\n"
        "# TYPE acme_certificates_issued_total counter\n";
    for (const auto& [profile, n] : issued_) {
      out +=
          "acme_certificates_issued_total{profile=\"" + profile + "\"} " + std::to_string(n) + "\n";
    }
    out +=
        "# HELP acme_revocations_total Certificates revoked through ACME revokeCert, by CRLReason "
        "code.\n"
        "# TYPE acme_revocations_total counter\n";
    for (const auto& [reason, n] : revoked_) {
      out += "acme_revocations_total{reason_code=\"" + std::to_string(reason) + "\"} " +
             std::to_string(n) + "\n";
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> issued_;
  std::map<int, uint64_t> revoked_;
};

}  // namespace ca::gateway
