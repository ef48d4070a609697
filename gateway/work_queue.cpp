#include "gateway/work_queue.h"

#include <exception>

#include "common/log.h"

namespace ca::gateway {

WorkQueue::WorkQueue(size_t threads) {
  for (size_t i = 0; i < (threads == 0 ? 1 : threads); ++i)
    threads_.emplace_back([this] { Loop(); });
}

WorkQueue::~WorkQueue() {
  Stop();
}

bool WorkQueue::SubmitAfter(Clock::duration delay, Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    queue_.emplace(Clock::now() + delay, std::move(job));  // after the equal keys: arrival order
  }
  cv_.notify_one();
  return true;
}

void WorkQueue::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return queue_.empty() && running_ == 0; });
}

void WorkQueue::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void WorkQueue::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (queue_.empty()) {
      if (stopping_) return;  // everything due has run
      cv_.wait(lock);
      continue;
    }
    auto first = queue_.begin();
    if (first->first > Clock::now()) {
      if (stopping_) {  // nothing left is due: delayed jobs are dropped
        log::Warn("work_queue_dropped_delayed_jobs", {{"count", queue_.size()}});
        queue_.clear();
        idle_cv_.notify_all();
        return;
      }
      cv_.wait_until(lock, first->first);
      continue;
    }
    Job job = std::move(first->second);
    queue_.erase(first);
    ++running_;
    lock.unlock();
    try {
      job();
    } catch (const std::exception& e) {
      log::Error("work_queue_job_threw", {{"error", e.what()}});
    } catch (...) {
      log::Error("work_queue_job_threw", {{"error", "unknown exception"}});
    }
    lock.lock();
    --running_;
    if (queue_.empty() && running_ == 0) idle_cv_.notify_all();
  }
}

}  // namespace ca::gateway
