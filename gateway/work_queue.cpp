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

bool WorkQueue::Submit(Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
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
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything queued has run
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    try {
      job();
    } catch (const std::exception& e) {
      log::Error("work_queue_job_threw", {{"error", e.what()}});
    } catch (...) {
      log::Error("work_queue_job_threw", {{"error", "unknown exception"}});
    }
    lock.lock();
  }
}

}  // namespace ca::gateway
