#include "engine/lease_keeper.h"

#include <unistd.h>

#include <climits>
#include <limits>

#include "common/log.h"
#include "engine/api/contract.h"

namespace ca::engine {
namespace {

constexpr int64_t kNotHeld = std::numeric_limits<int64_t>::min();

int64_t Nanos(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

LeaseOps LeaseOpsOn(const kv::Env& env) {
  return LeaseOps{
      [&env](std::string_view lease, std::string_view holder, std::chrono::milliseconds ttl) {
        return env.AcquireLease(lease, holder, ttl);
      },
      [&env](std::string_view lease, std::string_view holder) {
        return env.ReleaseLease(lease, holder);
      }};
}

std::string DefaultNodeName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

std::string EngineLeaseName(std::string_view environment) {
  return "engine-" + std::string(environment);
}

LeaseKeeper::LeaseKeeper(LeaseKeeperOptions options, LeaseOps ops, SteadyClock clock)
    : options_(std::move(options)),
      ops_(std::move(ops)),
      clock_(std::move(clock)),
      fence_(std::make_shared<kv::Fence>()) {
  fence_->lease = options_.lease;
  fence_->holder = options_.holder;
}

LeaseKeeper::~LeaseKeeper() {
  Stop();
}

std::chrono::steady_clock::time_point LeaseKeeper::Now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

bool LeaseKeeper::Active() const {
  return Nanos(Now()) < deadline_ns_.load(std::memory_order_acquire);
}

std::string LeaseKeeper::holder() const {
  std::lock_guard lock(mu_);
  return holder_;
}

std::string LeaseKeeper::StandbyDetail() const {
  std::string who = holder();
  if (who.empty() || who == options_.holder) {
    // Held by nobody known, or by this node whose renewal did not come back in time.
    return std::string(engine::api::kStandbyDetailPrefix) + "no node holds the lease " +
           options_.lease + " (this node is " + options_.holder + ")";
  }
  return std::string(engine::api::kStandbyDetailPrefix) + who + " holds the lease " +
         options_.lease;
}

void LeaseKeeper::RenewOnce() {
  // The deadline counts from before the call: the server's expiry counts from a later moment.
  const auto start = Now();
  const bool was_active = Nanos(start) < deadline_ns_.load(std::memory_order_acquire);
  auto state = ops_.acquire(options_.lease, options_.holder, options_.ttl);
  if (!state) {
    // The deadline stays: the node stays active until it passes, then refuses to sign.
    renew_failures_.fetch_add(1, std::memory_order_relaxed);
    log::Warn("lease_renew_failed", {{"lease", options_.lease},
                                     {"holder", options_.holder},
                                     {"active", Active()},
                                     {"error", state.error().ToString()}});
    return;
  }
  if (!state->held) {
    deadline_ns_.store(kNotHeld, std::memory_order_release);
    fence_->epoch.store(0, std::memory_order_release);
    if (held_) {
      losses_.fetch_add(1, std::memory_order_relaxed);
      log::Warn("lease_lost", {{"lease", options_.lease},
                               {"holder", options_.holder},
                               {"new_holder", state->holder},
                               {"epoch", state->epoch}});
    }
    held_ = false;
    std::lock_guard lock(mu_);
    holder_ = state->holder;
    return;
  }
  std::chrono::milliseconds valid = options_.ttl;
  if (state->remaining > std::chrono::milliseconds(0)) valid = std::min(valid, state->remaining);
  // The fence's epoch first: once Active() is true, the writes it guards pass.
  const uint64_t previous_epoch = fence_->epoch.exchange(state->epoch, std::memory_order_acq_rel);
  deadline_ns_.store(Nanos(start + valid - margin()), std::memory_order_release);
  if (!was_active || previous_epoch != state->epoch) {
    activations_.fetch_add(1, std::memory_order_acq_rel);
    log::Info("lease_acquired", {{"lease", options_.lease},
                                 {"holder", options_.holder},
                                 {"epoch", state->epoch},
                                 {"previous_epoch", previous_epoch},
                                 {"ttl_ms", options_.ttl.count()}});
  }
  held_ = true;
  std::lock_guard lock(mu_);
  holder_ = options_.holder;
}

void LeaseKeeper::Start() {
  RenewOnce();
  thread_ = std::thread([this] { Loop(); });
}

void LeaseKeeper::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait_for(lock, renew_period(), [&] { return stopping_; });
    if (stopping_) return;
    lock.unlock();
    RenewOnce();
    lock.lock();
  }
}

void LeaseKeeper::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!held_) return;
  deadline_ns_.store(kNotHeld, std::memory_order_release);
  fence_->epoch.store(0, std::memory_order_release);
  held_ = false;
  if (auto s = ops_.release(options_.lease, options_.holder); !s) {
    log::Warn(
        "lease_release_failed",
        {{"lease", options_.lease}, {"holder", options_.holder}, {"error", s.error().ToString()}});
    return;
  }
  log::Info("lease_released", {{"lease", options_.lease}, {"holder", options_.holder}});
}

}  // namespace ca::engine
