#include "crl_ocsp/server/freshness_monitor.h"

#include <algorithm>

#include "common/encoding.h"
#include "common/log.h"

namespace ca::crl_ocsp::server {

namespace {

Result<std::vector<IssuerResponses>> WalkResponses(const StatusReader& reader,
                                                   const std::vector<std::string>& issuers,
                                                   Time now, uint64_t& walked) {
  kv::Txn txn = CA_TRY(kv::Txn::BeginRead(reader.env()));
  std::vector<IssuerResponses> out;
  for (const std::string& name : issuers) {
    IssuerResponses f;
    f.name = name;
    CA_TRY_STATUS(ForEachResponse(txn, reader.dbs(), name,
                                  [&](std::span<const uint8_t> serial, const StoredResponse& r) {
                                    ++walked;
                                    if (r.cert_not_after <= now) return true;  // expired cert
                                    ++f.responses;
                                    if (!f.oldest_this_update ||
                                        r.this_update < *f.oldest_this_update) {
                                      f.oldest_this_update = r.this_update;
                                    }
                                    if (r.next_update <= now) {
                                      ++f.stale;
                                      if (f.stale_serials.size() < 100)
                                        f.stale_serials.push_back(HexEncode(serial));
                                    }
                                    return true;
                                  }));
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

Result<std::vector<IssuerCrl>> ReadCrls(const kv::Txn& txn, const StoreDbs& dbs,
                                        const std::vector<std::string>& issuers) {
  std::vector<IssuerCrl> out;
  for (const std::string& name : issuers) {
    IssuerCrl f;
    f.registered = CA_TRY(txn.Get(dbs.issuers, name)).has_value();
    CA_TRY_STATUS(ForEachCrl(txn, dbs, name, [&](CrlScope scope, const StoredCrl& crl) {
      if (scope.IsFull()) {
        f.crl = crl.info;
      } else {
        f.shards.emplace_back(*scope.shard, crl.info);
      }
      return true;
    }));
    out.push_back(std::move(f));
  }
  return out;
}

FreshnessMonitor::FreshnessMonitor(const StatusReader& reader, std::vector<std::string> issuers)
    : reader_(reader), issuers_(std::move(issuers)) {
  Pass();
  thread_ = std::thread([this] { Run(); });
}

FreshnessMonitor::~FreshnessMonitor() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const FreshnessSnapshot> FreshnessMonitor::Latest() const {
  std::lock_guard lock(mu_);
  return latest_;
}

MonitorStats FreshnessMonitor::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void FreshnessMonitor::Pass() {
  auto start = std::chrono::steady_clock::now();
  auto snapshot = std::make_shared<FreshnessSnapshot>();
  snapshot->at = pki::Now();
  uint64_t walked = 0;
  auto walk = WalkResponses(reader_, issuers_, snapshot->at, walked);
  if (walk) {
    snapshot->issuers = std::move(*walk);
  } else {
    log::Error("freshness_pass_failed", {{"error", walk.error().ToString()}});
    snapshot->error = walk.error();
  }
  std::lock_guard lock(mu_);
  latest_ = std::move(snapshot);
  ++stats_.passes;
  stats_.responses_walked += walked;
  last_pass_ = std::chrono::steady_clock::now() - start;
}

void FreshnessMonitor::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    auto wait = std::clamp<std::chrono::steady_clock::duration>(
        last_pass_ * 10, std::chrono::seconds(1), std::chrono::seconds(60));
    if (cv_.wait_for(lock, wait, [this] { return stopping_; })) return;
    lock.unlock();
    Pass();
    lock.lock();
  }
}

}  // namespace ca::crl_ocsp::server
