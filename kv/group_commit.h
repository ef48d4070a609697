// Group commit for a store (kv/kv.h, either engine): one committer thread runs the write operations
// of many concurrent callers in one write transaction and commits it once (one fsync, or one
// round trip to PostgreSQL, for the whole batch). Every caller returns only after its batch is
// durably committed.
//
// Isolation of failures: when an operation of a batch fails (returns an error or throws), or the
// batch's commit fails, the batch is abandoned and each of its operations runs again in a
// transaction of its own, in the original order; so one failing operation never takes the others'
// writes with it, and every caller gets the outcome of its own operation. Consequences for an
// operation: it may run more than once, so it sets (never accumulates) what it reports through its
// captures; it sees the writes of the operations before it in the batch (serial order); it must not
// wait for another writer of the same store (it runs on the committer thread).
//
// Conflicts: a transaction that lost a race with another writer (kv::IsConflict: PostgreSQL's
// serialization failures; never on LMDB) wrote nothing and is run again, up to kConflictTries
// times with a short growing backoff; a caller sees a conflict only once those tries are spent.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "common/result.h"
#include "kv/kv.h"

namespace ca::kv {

class GroupCommitter {
 public:
  using Op = std::function<Status(Txn& txn)>;
  static constexpr int kConflictTries = kv::kConflictTries;

  // `env` must outlive the committer. At most `max_batch` operations share one transaction.
  explicit GroupCommitter(const Env& env, size_t max_batch = 256);
  ~GroupCommitter();  // runs what is queued, then stops
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Runs `op` in the next batch; returns once that batch is durably committed: the op's own
  // error, or the commit's, or success.
  Status Run(const Op& op);
  // Queues `op` and returns at once: the future gets what Run would have returned. Lets a caller
  // overlap the commit's fsync with other work (the engine signs nothing before the reservation's
  // future says it is durable).
  std::future<Status> Submit(Op op);

  struct Stats {
    uint64_t batches = 0;  // committed transactions (reruns included)
    uint64_t ops = 0;
    uint64_t reruns = 0;     // batches abandoned and rerun one operation per transaction
    uint64_t conflicts = 0;  // transactions that lost a race and were run again
  };
  Stats stats() const;

 private:
  struct Pending {
    const Op* op;
    Status result;
    bool done = false;
    // Submit(): the operation is owned here and the outcome goes to the promise (the Pending is
    // deleted by the committer once the promise is set).
    Op owned;
    std::promise<Status> promise;
    bool async = false;
    // Its own: the committer wakes exactly the callers of the batch it committed, not every
    // caller waiting (those of the next batch went back to sleep at each commit).
    std::condition_variable done_cv;
  };
  void Loop();
  // Runs ops [0, n) in one transaction; the failure of any op or of the commit fails the batch.
  // A conflict is retried here (see the header comment).
  Status RunBatch(Pending* const* batch, size_t n);
  Status RunBatchOnce(Pending* const* batch, size_t n);

  const Env& env_;
  const size_t max_batch_;
  mutable std::mutex mu_;
  std::condition_variable queued_cv_;
  std::deque<Pending*> queue_;
  bool stopping_ = false;
  Stats stats_;
  std::thread thread_;
};

}  // namespace ca::kv
