#include "engine/metrics.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "crl_ocsp/revocation.h"

namespace ca::engine {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

template <size_t N>
size_t IndexOf(const std::array<std::string_view, N>& names, std::string_view name,
               size_t fallback) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return i;
  }
  return fallback;
}

std::string ReasonLabel(int code) {
  auto reason = pki::ReasonFromCode(code);
  return reason ? std::string(pki::ReasonName(*reason)) : "code_" + std::to_string(code);
}

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// A label value, escaped as the text format wants (backslash, quote, newline).
std::string Label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Header(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

EngineMetrics::EngineMetrics() : started_at_(NowUnix()) {}

void EngineMetrics::CountIssue(std::string_view profile, std::string_view result) {
  size_t p = IndexOf(kProfiles, profile, kProfiles.size() - 1);
  size_t r = IndexOf(kIssueResults, result, kIssueResults.size() - 1);
  issues_[p][r].fetch_add(1, kRelaxed);
}

void EngineMetrics::CountRevoked(int reason, uint64_t certificates) {
  if (reason < 0 || reason > kMaxReason) reason = 0;
  revoked_[static_cast<size_t>(reason)].fetch_add(certificates, kRelaxed);
}

void EngineMetrics::CountRevokeRefused() {
  revoke_refused_.fetch_add(1, kRelaxed);
}

void EngineMetrics::ObserveSign(SignerKey key, double seconds, bool ok) {
  Histogram& h = sign_[key == SignerKey::kOcsp ? 1 : 0];
  if (!ok) {
    h.errors.fetch_add(1, kRelaxed);
    return;
  }
  size_t b = 0;
  while (b < kSignBuckets.size() && seconds > kSignBuckets[b]) ++b;
  h.buckets[b].fetch_add(1, kRelaxed);
  h.count.fetch_add(1, kRelaxed);
  h.sum_ns.fetch_add(static_cast<uint64_t>(seconds * 1e9), kRelaxed);
  if (key == SignerKey::kOcsp) ocsp_signed_.fetch_add(1, kRelaxed);
}

void EngineMetrics::CountAudit(bool ok) {
  (ok ? audit_ok_ : audit_failed_).fetch_add(1, kRelaxed);
}

std::string EngineMetrics::Render(const std::vector<CrlGauge>& crls, int64_t now_unix,
                                  const std::vector<HaGauge>& ha) const {
  std::string out;
  out.reserve(8192);
  Header(out, "acme_ca_engine_start_time_seconds", "gauge", "Unix time the engine started.");
  out += "acme_ca_engine_start_time_seconds " + std::to_string(started_at_) + "\n";
  Header(out, "acme_ca_engine_metrics_time_seconds", "gauge", "Unix time this file was written.");
  out += "acme_ca_engine_metrics_time_seconds " + std::to_string(now_unix) + "\n";

  Header(out, "acme_ca_engine_issuances_total", "counter",
         "Issue requests answered, by profile and result (issued or the refusal kind).");
  for (size_t p = 0; p < kProfiles.size(); ++p) {
    for (size_t r = 0; r < kIssueResults.size(); ++r) {
      uint64_t v = issues_[p][r].load(kRelaxed);
      if (v == 0 && r != 0) continue;  // refusals appear once they happen; "issued" always
      out += "acme_ca_engine_issuances_total{profile=\"" + std::string(kProfiles[p]) +
             "\",result=\"" + std::string(kIssueResults[r]) + "\"} " + std::to_string(v) + "\n";
    }
  }

  Header(out, "acme_ca_engine_revocations_total", "counter",
         "Certificates newly revoked (single requests, account-wide and RA mass revocations), by "
         "reason.");
  for (int reason = 0; reason <= kMaxReason; ++reason) {
    uint64_t v = revoked_[static_cast<size_t>(reason)].load(kRelaxed);
    if (v == 0 && reason != 0) continue;
    out += "acme_ca_engine_revocations_total{reason=\"" + ReasonLabel(reason) + "\"} " +
           std::to_string(v) + "\n";
  }
  Header(out, "acme_ca_engine_revocation_refusals_total", "counter",
         "Revocation requests refused (unknown serial, already revoked, store unavailable).");
  out += "acme_ca_engine_revocation_refusals_total " +
         std::to_string(revoke_refused_.load(kRelaxed)) + "\n";

  Header(out, "acme_ca_engine_hsm_sign_seconds", "histogram",
         "HSM signature latency by key (issuer: certificates and CRLs; ocsp: OCSP responses).");
  for (size_t k = 0; k < sign_.size(); ++k) {
    const Histogram& h = sign_[k];
    std::string key = k == 0 ? "issuer" : "ocsp";
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= kSignBuckets.size(); ++b) {
      cumulative += h.buckets[b].load(kRelaxed);
      std::string le = b < kSignBuckets.size() ? Number(kSignBuckets[b]) : "+Inf";
      out += "acme_ca_engine_hsm_sign_seconds_bucket{key=\"" + key + "\",le=\"" + le + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += "acme_ca_engine_hsm_sign_seconds_sum{key=\"" + key + "\"} " +
           Number(static_cast<double>(h.sum_ns.load(kRelaxed)) / 1e9) + "\n";
    out += "acme_ca_engine_hsm_sign_seconds_count{key=\"" + key + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  Header(out, "acme_ca_engine_hsm_sign_errors_total", "counter",
         "HSM signatures that failed, by key.");
  for (size_t k = 0; k < sign_.size(); ++k) {
    out += std::string("acme_ca_engine_hsm_sign_errors_total{key=\"") +
           (k == 0 ? "issuer" : "ocsp") + "\"} " + std::to_string(sign_[k].errors.load(kRelaxed)) +
           "\n";
  }
  Header(out, "acme_ca_engine_ocsp_responses_signed_total", "counter",
         "OCSP responses signed (on issuance, revocation and re-signing before half-life).");
  out += "acme_ca_engine_ocsp_responses_signed_total " +
         std::to_string(ocsp_signed_.load(kRelaxed)) + "\n";

  Header(out, "acme_ca_engine_audit_entries_total", "counter",
         "Audit file appends, by result (failed: the entry is only in the journal).");
  out += "acme_ca_engine_audit_entries_total{result=\"ok\"} " +
         std::to_string(audit_ok_.load(kRelaxed)) + "\n";
  out += "acme_ca_engine_audit_entries_total{result=\"failed\"} " +
         std::to_string(audit_failed_.load(kRelaxed)) + "\n";

  if (!crls.empty()) {
    Header(out, "acme_ca_engine_crl_number", "gauge", "CRL number of the current CRL, by issuer.");
    for (const auto& c : crls) {
      out += "acme_ca_engine_crl_number{environment=\"" + Label(c.environment) + "\",issuer=\"" +
             Label(c.issuer) + "\"} " + std::to_string(c.number) + "\n";
    }
    Header(out, "acme_ca_engine_crl_age_seconds", "gauge",
           "Seconds since the current CRL's thisUpdate.");
    for (const auto& c : crls) {
      out += "acme_ca_engine_crl_age_seconds{environment=\"" + Label(c.environment) +
             "\",issuer=\"" + Label(c.issuer) + "\"} " + std::to_string(now_unix - c.this_update) +
             "\n";
    }
    Header(out, "acme_ca_engine_crl_next_update_seconds", "gauge",
           "Seconds until the current CRL's nextUpdate.");
    for (const auto& c : crls) {
      out += "acme_ca_engine_crl_next_update_seconds{environment=\"" + Label(c.environment) +
             "\",issuer=\"" + Label(c.issuer) + "\"} " + std::to_string(c.next_update - now_unix) +
             "\n";
    }
    Header(out, "acme_ca_engine_crl_entries", "gauge", "Entries in the current CRL.");
    for (const auto& c : crls) {
      out += "acme_ca_engine_crl_entries{environment=\"" + Label(c.environment) + "\",issuer=\"" +
             Label(c.issuer) + "\"} " + std::to_string(c.entries) + "\n";
    }
  }
  if (!ha.empty()) RenderHa(out, ha);
  return out;
}

void EngineMetrics::RenderHa(std::string& out, const std::vector<HaGauge>& ha) {
  auto labels = [](const HaGauge& g) { return "{environment=\"" + Label(g.environment) + "\"} "; };
  Header(out, "acme_ca_engine_ha_active", "gauge",
         "1 when this node holds the instance's engine lease and may sign, 0 on the standby.");
  for (const auto& g : ha) {
    out += "acme_ca_engine_ha_active{environment=\"" + Label(g.environment) + "\",lease=\"" +
           Label(g.lease) + "\",node=\"" + Label(g.node) + "\"} " + (g.active ? "1" : "0") + "\n";
  }
  Header(out, "acme_ca_engine_ha_lease_epoch", "gauge",
         "Epoch of the engine lease while this node holds it (bumped on each change of holder), "
         "else 0.");
  for (const auto& g : ha)
    out += "acme_ca_engine_ha_lease_epoch" + labels(g) + std::to_string(g.epoch) + "\n";
  Header(out, "acme_ca_engine_ha_takeovers_total", "counter",
         "Times this node became the active signer (first acquisition, takeover, lease regained).");
  for (const auto& g : ha)
    out += "acme_ca_engine_ha_takeovers_total" + labels(g) + std::to_string(g.takeovers) + "\n";
  Header(
      out, "acme_ca_engine_ha_lease_renew_failures_total", "counter",
      "Lease acquire/renew calls that failed (database unreachable): the node stays active until "
      "its local deadline only.");
  for (const auto& g : ha) {
    out += "acme_ca_engine_ha_lease_renew_failures_total" + labels(g) +
           std::to_string(g.renew_failures) + "\n";
  }
  Header(out, "acme_ca_engine_ha_lease_losses_total", "counter",
         "Times the store reported another holder while this node held the lease.");
  for (const auto& g : ha)
    out += "acme_ca_engine_ha_lease_losses_total" + labels(g) + std::to_string(g.losses) + "\n";
  RenderDatabase(out, ha);
}

// The pair's PostgreSQL as the last probe saw it; what the primary reports only while it answers
// (a stale standby list would hide the failover).
void EngineMetrics::RenderDatabase(std::string& out, const std::vector<HaGauge>& ha) {
  std::vector<const HaGauge*> probed, up;
  for (const auto& g : ha) {
    if (!g.db || !g.db->probed) continue;
    probed.push_back(&g);
    if (g.db->primary_up) up.push_back(&g);
  }
  if (probed.empty()) return;
  auto labels = [](const HaGauge& g) { return "{environment=\"" + Label(g.environment) + "\"} "; };
  Header(out, "acme_ca_engine_db_primary_up", "gauge",
         "1 when the last probe (every 5 s) reached the pair's read-write PostgreSQL server.");
  for (const HaGauge* g : probed)
    out += "acme_ca_engine_db_primary_up" + labels(*g) + (g->db->primary_up ? "1" : "0") + "\n";
  Header(out, "acme_ca_engine_db_probe_failures_total", "counter",
         "Probes of the database that reached no read-write server.");
  for (const HaGauge* g : probed)
    out += "acme_ca_engine_db_probe_failures_total" + labels(*g) +
           std::to_string(g->db->probe_failures) + "\n";
  if (up.empty()) return;
  Header(out, "acme_ca_engine_db_sync_commit", "gauge",
         "1 when a commit waits for a standby (synchronous_standby_names set); 0: the pair runs on "
         "one copy.");
  for (const HaGauge* g : up)
    out += "acme_ca_engine_db_sync_commit" + labels(*g) + (g->db->state.sync_commit ? "1" : "0") +
           "\n";
  Header(out, "acme_ca_engine_db_sync_standbys", "gauge",
         "Standbys streaming whose commits the primary waits for (sync_state sync or quorum).");
  for (const HaGauge* g : up)
    out += "acme_ca_engine_db_sync_standbys" + labels(*g) +
           std::to_string(g->db->state.SyncStandbys()) + "\n";
  Header(out, "acme_ca_engine_db_standby_replay_lag_seconds", "gauge",
         "Each standby's replay lag as the primary reports it, with its state and sync_state.");
  for (const HaGauge* g : up) {
    for (const auto& s : g->db->state.standbys) {
      out += "acme_ca_engine_db_standby_replay_lag_seconds{environment=\"" + Label(g->environment) +
             "\",standby=\"" + Label(s.name) + "\",state=\"" + Label(s.state) + "\",sync_state=\"" +
             Label(s.sync_state) + "\"} " + Number(s.replay_lag_seconds) + "\n";
    }
  }
}

Status EngineMetrics::WriteFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(ErrorCode::kIo, "metrics file " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  bool ok = ::fchmod(fd, 0644) == 0;
  while (ok && done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) saved = errno;
    ::unlink(tmp.c_str());
    return Fail(ErrorCode::kIo, "metrics file " + path + ": " + std::strerror(saved));
  }
  return Ok();
}

}  // namespace ca::engine
