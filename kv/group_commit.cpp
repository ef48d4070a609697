#include "kv/group_commit.h"

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace ca::kv {

namespace {

// Operations are user code: an exception must not escape onto the committer thread.
Status RunOp(const GroupCommitter::Op& op, Txn& txn) {
  try {
    return op(txn);
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kInternal, std::string("store write operation threw: ") + e.what());
  } catch (...) {
    return Fail(ErrorCode::kInternal, "store write operation threw");
  }
}

}  // namespace

GroupCommitter::GroupCommitter(const Env& env, size_t max_batch)
    : env_(env), max_batch_(max_batch == 0 ? 1 : max_batch) {
  thread_ = std::thread([this] { Loop(); });
}

GroupCommitter::~GroupCommitter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  queued_cv_.notify_all();
  thread_.join();
}

GroupCommitter::Stats GroupCommitter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Status GroupCommitter::Run(const Op& op) {
  // From inside an operation this would wait for itself.
  if (std::this_thread::get_id() == thread_.get_id())
    return Fail(ErrorCode::kInternal, "store write started from inside a store write operation");
  Pending pending{&op, {}, false, {}, {}, false, {}};
  std::unique_lock lock(mu_);
  if (stopping_) return Fail(ErrorCode::kUnavailable, "store is shutting down");
  queue_.push_back(&pending);
  queued_cv_.notify_one();
  pending.done_cv.wait(lock, [&] { return pending.done; });
  return pending.result;
}

std::future<Status> GroupCommitter::Submit(Op op) {
  auto pending = std::make_unique<Pending>();
  pending->owned = std::move(op);
  pending->op = &pending->owned;
  pending->async = true;
  std::future<Status> outcome = pending->promise.get_future();
  if (std::this_thread::get_id() == thread_.get_id()) {
    pending->promise.set_value(
        Fail(ErrorCode::kInternal, "store write started from inside a store write operation"));
    return outcome;
  }
  std::lock_guard lock(mu_);
  if (stopping_) {
    pending->promise.set_value(Fail(ErrorCode::kUnavailable, "store is shutting down"));
    return outcome;
  }
  queue_.push_back(pending.release());
  queued_cv_.notify_one();
  return outcome;
}

Status GroupCommitter::RunBatch(Pending* const* batch, size_t n) {
  return RetryOnConflict([&] { return RunBatchOnce(batch, n); },
                         [&] {
                           std::lock_guard lock(mu_);
                           ++stats_.conflicts;
                         });
}

Status GroupCommitter::RunBatchOnce(Pending* const* batch, size_t n) {
  Txn txn = CA_TRY(Txn::BeginWrite(env_));
  for (size_t i = 0; i < n; ++i) {
    Status s = RunOp(*batch[i]->op, txn);
    if (!s) return s;  // the transaction aborts when `txn` goes out of scope
  }
  return txn.Commit();
}

void GroupCommitter::Loop() {
  std::vector<Pending*> batch;
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(mu_);
      queued_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    uint64_t commits = 1;
    bool rerun = false;
    Status batch_status = RunBatch(batch.data(), batch.size());
    if (batch_status || batch.size() == 1) {
      for (Pending* p : batch) p->result = batch_status;
    } else {
      // Someone's operation (or the commit) failed: give every operation its own transaction.
      rerun = true;
      commits = batch.size();
      for (Pending* p : batch) p->result = RunBatch(&p, 1);
    }
    std::vector<Pending*> submitted;
    {
      std::lock_guard lock(mu_);
      stats_.batches += commits;
      stats_.ops += batch.size();
      if (rerun) ++stats_.reruns;
      // Notified under the lock: once it sees `done`, a Run() caller returns and its Pending is
      // gone. A Submit() one is owned here: its promise is set after the lock is released.
      for (Pending* p : batch) {
        if (p->async) {
          submitted.push_back(p);
          continue;
        }
        p->done = true;
        p->done_cv.notify_one();
      }
    }
    for (Pending* p : submitted) {
      std::unique_ptr<Pending> owned(p);
      owned->promise.set_value(std::move(owned->result));
    }
  }
}

}  // namespace ca::kv
