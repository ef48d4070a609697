// Validations in flight and their likely end (see validation_tracker.h).
#include "gateway/validation_tracker.h"

#include <algorithm>
#include <vector>

namespace ca::gateway {

namespace {

using Clock = ValidationTracker::Clock;

int64_t CeilSeconds(Clock::duration d) {
  if (d <= Clock::duration::zero()) return 0;
  return std::chrono::ceil<std::chrono::seconds>(d).count();
}

}  // namespace

int64_t RetryAfterFromDuration(Clock::duration d) {
  return std::clamp<int64_t>(CeilSeconds(d), 1, ValidationTracker::kMaxRetryAfterSeconds);
}

void ValidationTracker::Queued(const std::string& id, Clock::time_point due, bool retry) {
  std::lock_guard lock(mu_);
  attempts_[id] = Attempt{due, std::nullopt, retry};
}

void ValidationTracker::Started(const std::string& id, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = attempts_.try_emplace(id, Attempt{now, std::nullopt, false});
  it->second.started = now;
}

void ValidationTracker::Ended(const std::string& id, std::optional<Clock::duration> took,
                              std::optional<Clock::time_point> retry_due) {
  {
    std::lock_guard lock(mu_);
    if (took) {
      recent_.push_back(*took);
      if (recent_.size() > kWindow) recent_.pop_front();
    }
    if (retry_due)
      attempts_[id] = Attempt{*retry_due, std::nullopt, true};
    else
      attempts_.erase(id);
  }
  ended_cv_.notify_all();
}

std::optional<Clock::duration> ValidationTracker::TypicalLocked() const {
  if (recent_.empty()) return std::nullopt;
  std::vector<Clock::duration> sorted(recent_.begin(), recent_.end());
  auto middle = sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2);
  std::nth_element(sorted.begin(), middle, sorted.end());
  return *middle;
}

std::optional<Clock::duration> ValidationTracker::TypicalAttempt() const {
  std::lock_guard lock(mu_);
  return TypicalLocked();
}

ValidationTracker::Estimate ValidationTracker::EstimateLocked(const std::string& id,
                                                              Clock::time_point now) const {
  const Clock::duration typical = TypicalLocked().value_or(kUnmeasuredAttempt);
  auto it = attempts_.find(id);
  if (it == attempts_.end()) return {Clock::duration::zero(), typical};
  const Attempt& own = it->second;
  if (own.started)
    return {Clock::duration::zero(),
            std::max(*own.started + typical - now, Clock::duration::zero())};
  // Queued: it starts at its due time once a worker is free. Ahead of it: the attempts running or
  // due before it (the queue runs in due order) that will still be on a worker then.
  const Clock::time_point start = std::max(own.due, now);
  size_t ahead = 0;
  for (const auto& [other_id, other] : attempts_) {
    if (other_id == id || (!other.started && other.due > own.due)) continue;
    const Clock::time_point other_start = other.started ? *other.started : std::max(other.due, now);
    if (other_start + typical > start) ++ahead;
  }
  const auto waves = static_cast<Clock::rep>(ahead / workers_);
  return {start - now + typical * waves, typical};
}

Clock::duration ValidationTracker::LikelyReadyIn(const std::string& id,
                                                 Clock::time_point now) const {
  std::lock_guard lock(mu_);
  Estimate e = EstimateLocked(id, now);
  return e.until_start + e.running;
}

int64_t ValidationTracker::RetryAfterSeconds(const std::string& id, Clock::time_point now) const {
  std::lock_guard lock(mu_);
  Estimate e = EstimateLocked(id, now);
  return std::clamp<int64_t>(CeilSeconds(e.until_start) + CeilSeconds(e.running), 1,
                             kMaxRetryAfterSeconds);
}

bool ValidationTracker::AwaitFirstAttempt(const std::string& id, Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  auto ended = [&] {
    auto it = attempts_.find(id);
    return it == attempts_.end() || it->second.retry;
  };
  ended_cv_.wait_until(lock, deadline, [&] { return cancelled_ || ended(); });
  return ended();
}

void ValidationTracker::CancelWaits() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
  }
  ended_cv_.notify_all();
}

}  // namespace ca::gateway
