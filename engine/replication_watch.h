// The engine pair's view of its database (issue 20: "health and failover state in /metrics"): a
// thread that asks the primary every few seconds how its standbys replicate (kv::Env::
// GetReplication) and keeps the last answer for the metrics file. On its own thread and its own
// connections: a probe that waits on an unreachable server never delays a lease renewal, a
// signature or a metrics write.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "common/result.h"
#include "kv/kv.h"

namespace ca::engine {

struct ReplicationSnapshot {
  bool probed = false;         // a probe has finished
  bool primary_up = false;     // the last probe reached the read-write server
  kv::ReplicationState state;  // the last successful probe's
  uint64_t probe_failures = 0;
};

class ReplicationWatch {
 public:
  using Probe = std::function<Result<kv::ReplicationState>()>;

  ReplicationWatch(Probe probe, std::chrono::milliseconds period)
      : probe_(std::move(probe)), period_(period) {}
  ~ReplicationWatch();  // Stop()
  ReplicationWatch(const ReplicationWatch&) = delete;
  ReplicationWatch& operator=(const ReplicationWatch&) = delete;

  void Start();  // the thread: a probe at once, then every period
  void Stop();
  void ProbeOnce();  // the thread's step; tests call it directly
  ReplicationSnapshot Snapshot() const;

 private:
  Probe probe_;
  std::chrono::milliseconds period_;
  mutable std::mutex mu_;
  ReplicationSnapshot last_;  // mu_
  std::condition_variable cv_;
  bool stopping_ = false;  // mu_
  std::thread thread_;
};

}  // namespace ca::engine
