#include "gateway/validation/pool.h"

#include <exception>
#include <system_error>

#include "common/log.h"

namespace ca::validation {

Result<std::unique_ptr<ValidationPool>> ValidationPool::Create(
    std::shared_ptr<const Validator> validator, size_t threads, size_t queue_capacity,
    std::chrono::milliseconds per_validation_timeout) {
  if (!validator) return Fail(ErrorCode::kInvalidArgument, "validation pool needs a validator");
  if (threads < 1 || threads > 256 || queue_capacity < 1 || per_validation_timeout.count() < 1) {
    return Fail(ErrorCode::kInvalidArgument,
                "validation pool: threads 1..256, queue capacity >= 1, timeout > 0");
  }
  std::unique_ptr<ValidationPool> pool(new ValidationPool());
  pool->validator_ = std::move(validator);
  pool->capacity_ = queue_capacity;
  pool->timeout_ = per_validation_timeout;
  try {
    for (size_t i = 0; i < threads; ++i)
      pool->workers_.emplace_back([p = pool.get()] { p->WorkerLoop(); });
  } catch (const std::system_error& e) {  // the destructor joins the threads already started
    return Fail(ErrorCode::kResourceExhausted,
                std::string("validation pool: cannot start threads: ") + e.what());
  }
  return pool;
}

ValidationPool::~ValidationPool() {
  std::deque<Job> abandoned;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    abandoned.swap(queue_);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  for (const auto& job : abandoned)
    Deliver(job.done, Outcome::Unavailable("validator shutting down"));
}

void ValidationPool::Deliver(const Callback& done, const Outcome& outcome) {
  try {
    done(outcome);
  } catch (const std::exception& e) {
    log::Error("validation_callback_threw", {{"what", e.what()}});
  } catch (...) {
    log::Error("validation_callback_threw", {{"what", "unknown exception"}});
  }
}

Status ValidationPool::Enqueue(Job job) {
  if (!job.done) return Fail(ErrorCode::kInvalidArgument, "validation job needs a callback");
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Fail(ErrorCode::kFailedPrecondition, "validation pool is shutting down");
    if (queue_.size() >= capacity_) {
      return Fail(ErrorCode::kResourceExhausted,
                  "validation queue full (" + std::to_string(capacity_) + " waiting)");
    }
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return Ok();
}

Status ValidationPool::SubmitChallenge(ChallengeRequest request, Callback done) {
  CA_TRY_STATUS(Validator::CheckRequest(request));
  auto validator = validator_;
  return Enqueue(Job{[validator, request = std::move(request)](Clock::time_point deadline) {
                       return validator->ValidateChallenge(request, deadline);
                     },
                     std::move(done)});
}

Status ValidationPool::SubmitCaa(std::string identifier, CaaRequest request, Callback done) {
  std::string_view id = identifier;
  if (id.starts_with("*.")) id.remove_prefix(2);
  if (auto name = NormalizeDnsName(id); !name) return std::unexpected(name.error());
  auto validator = validator_;
  return Enqueue(Job{[validator, identifier = std::move(identifier),
                      request = std::move(request)](Clock::time_point deadline) {
                       return validator->CheckCaa(identifier, request, deadline);
                     },
                     std::move(done)});
}

size_t ValidationPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void ValidationPool::WorkerLoop() {
  while (true) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // the destructor reports what is still queued
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Outcome outcome;
    try {
      auto result = job.work(Clock::now() + timeout_);
      outcome =
          result ? *result : Outcome::Invalid(ProblemType::kMalformed, result.error().message);
    } catch (const std::exception& e) {  // std::bad_alloc, std::system_error from thread creation
      outcome = Outcome::Unavailable(std::string("validation failed: ") + e.what());
    }
    Deliver(job.done, outcome);
  }
}

}  // namespace ca::validation
