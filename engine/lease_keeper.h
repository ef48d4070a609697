// The engine pair's lease keeper (issue 20): one active signer per CA instance at a time. Both
// nodes run ca-engine on one PostgreSQL database; the holder of the lease "engine-<environment>"
// (kv::Env::AcquireLease, by the database server's clock) signs, the other is the standby.
//
// The keeper acquires or renews the lease every ttl/5 on its own thread. After each successful
// acquire or renewal it sets a local deadline on the steady clock:
//   deadline = (steady time at the START of that call) + min(ttl, remaining) - margin
// The server counts the lease's expiry from a moment after the call started, so the deadline
// always falls at least `margin` (ttl/5) before the server could give the lease to another node:
// Active() (now < deadline) is what the engine checks right before every HSM signature, and the
// margin bounds how long one signature may run past it (engine/README.md, "Engine pair").
//
// The keeper also keeps a kv::Fence (lease, holder, epoch; epoch 0 while not held) that the engine
// installs on the CA store's and the status store's Envs: every write transaction then checks,
// inside itself, that this node still holds the lease at that epoch (kv/kv.h).
//
// The store calls go through LeaseOps (LeaseOpsOn builds them from a kv::Env), so the keeper's
// logic is tested with an in-memory lease table (lease_keeper_test.cpp).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"
#include "kv/kv.h"

namespace ca::engine {

// What the keeper asks of the store (kv::Env's lease calls).
struct LeaseOps {
  std::function<Result<kv::LeaseState>(std::string_view lease, std::string_view holder,
                                       std::chrono::milliseconds ttl)>
      acquire;
  std::function<Status(std::string_view lease, std::string_view holder)> release;
};

// The lease calls of `env` (which must outlive the ops).
LeaseOps LeaseOpsOn(const kv::Env& env);

// This machine's host name: the default node name (engine config ha.node_name).
std::string DefaultNodeName();

// "engine-<environment>".
std::string EngineLeaseName(std::string_view environment);

struct LeaseKeeperOptions {
  std::string lease;   // "engine-production"
  std::string holder;  // this node's name
  std::chrono::milliseconds ttl{10000};
};

class LeaseKeeper {
 public:
  using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

  // `clock` (tests) replaces the steady clock.
  LeaseKeeper(LeaseKeeperOptions options, LeaseOps ops, SteadyClock clock = nullptr);
  ~LeaseKeeper();  // Stop()
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // One acquire (at once, so a node that can take the lease is active when Start returns), then
  // the renewal thread, every renew_period().
  void Start();
  // Stops the thread; if held, stops being active and releases the lease (a clean shutdown: the
  // standby takes over at its next renewal instead of after the expiry).
  void Stop();

  // One acquire or renewal (the thread's step; tests call it directly).
  void RenewOnce();

  // This node may sign: it holds the lease and its local deadline has not passed.
  bool Active() const;
  // Bumped each time the keeper becomes active (the first acquisition, a takeover, a renewal after
  // the deadline lapsed): the engine then reconciles the pending reservations (takeover).
  uint64_t activations() const { return activations_.load(std::memory_order_acquire); }
  // The lease's epoch while held, else 0 (the fence's).
  uint64_t epoch() const { return fence_->epoch.load(std::memory_order_acquire); }
  // The holder last reported by the store ("" when unknown).
  std::string holder() const;
  // The detail of a standby's refusal: "engine standby: <holder> holds the lease <lease>" (the
  // gateway's engine client moves to its next endpoint on the "engine standby:" prefix).
  std::string StandbyDetail() const;

  std::shared_ptr<const kv::Fence> fence() const { return fence_; }
  const LeaseKeeperOptions& options() const { return options_; }
  std::chrono::milliseconds renew_period() const { return options_.ttl / 5; }
  std::chrono::milliseconds margin() const { return options_.ttl / 5; }

  uint64_t renew_failures() const { return renew_failures_.load(std::memory_order_relaxed); }
  uint64_t losses() const { return losses_.load(std::memory_order_relaxed); }

 private:
  std::chrono::steady_clock::time_point Now() const;
  void Loop();

  LeaseKeeperOptions options_;
  LeaseOps ops_;
  SteadyClock clock_;
  std::shared_ptr<kv::Fence> fence_;
  // Steady-clock nanoseconds; min() while not held.
  std::atomic<int64_t> deadline_ns_{std::numeric_limits<int64_t>::min()};
  std::atomic<uint64_t> activations_{0}, renew_failures_{0}, losses_{0};
  bool held_ = false;  // RenewOnce's callers only (the thread, or Start/Stop around it)
  mutable std::mutex mu_;
  std::string holder_;  // mu_
  std::condition_variable cv_;
  bool stopping_ = false;  // mu_
  std::thread thread_;
};

}  // namespace ca::engine
