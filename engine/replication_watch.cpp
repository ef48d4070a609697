#include "engine/replication_watch.h"

#include "common/log.h"

namespace ca::engine {

ReplicationWatch::~ReplicationWatch() {
  Stop();
}

void ReplicationWatch::ProbeOnce() {
  auto state = probe_();
  std::lock_guard lock(mu_);
  bool was_up = last_.primary_up;
  last_.probed = true;
  last_.primary_up = state.has_value();
  if (state) {
    last_.state = std::move(*state);
  } else {
    ++last_.probe_failures;
    // Once per outage: the lease keeper logs every failed renewal already.
    if (was_up) log::Warn("db_primary_unreachable", {{"error", state.error().ToString()}});
  }
}

ReplicationSnapshot ReplicationWatch::Snapshot() const {
  std::lock_guard lock(mu_);
  return last_;
}

void ReplicationWatch::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      ProbeOnce();
      lock.lock();
      cv_.wait_for(lock, period_, [&] { return stopping_; });
    }
  });
}

void ReplicationWatch::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ca::engine
