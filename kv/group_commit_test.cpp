#include "kv/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ca::kv {
namespace {

struct Fixture {
  std::string dir;
  std::optional<Env> env;
  Table dbi = 0;
  Fixture() {
    char tmpl[] = "/tmp/group_commit_test_XXXXXX";
    dir = mkdtemp(tmpl);
    env.emplace(std::move(*Env::Open({.location = dir, .create = true})));
    dbi = *env->OpenTable("things", true);
  }
  ~Fixture() {
    env.reset();
    std::filesystem::remove_all(dir);
  }
  size_t Count() const {
    auto txn = Txn::BeginRead(*env);
    size_t n = 0;
    (void)txn->ForEach(dbi, "", [&](std::string_view, std::string_view) {
      ++n;
      return true;
    });
    return n;
  }
};

// Every writer returns only once its write is committed: a read right after Run sees it, and the
// data survive closing and reopening the store.
TEST(GroupCommitter, ConcurrentWritersAreAllCommittedAndBatched) {
  Fixture f;
  constexpr int kThreads = 16, kPerThread = 40;
  std::atomic<int> not_visible{0};
  GroupCommitter::Stats stats;
  {
    GroupCommitter committer(*f.env);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          std::string key = std::to_string(t) + "-" + std::to_string(i);
          Status s = committer.Run([&](Txn& txn) { return txn.Put(f.dbi, key, "v"); });
          ASSERT_TRUE(s) << s.error().ToString();
          auto read = Txn::BeginRead(*f.env);
          auto got = read->Get(f.dbi, key);
          if (!got || !*got) ++not_visible;
        }
      });
    }
    for (auto& t : threads) t.join();
    stats = committer.stats();
  }
  EXPECT_EQ(not_visible, 0);
  EXPECT_EQ(stats.ops, uint64_t{kThreads * kPerThread});
  EXPECT_LT(stats.batches, stats.ops);  // concurrent writers shared transactions
  EXPECT_EQ(stats.reruns, 0u);
  f.env.reset();
  f.env.emplace(std::move(*Env::Open({.location = f.dir})));
  f.dbi = *f.env->OpenTable("things", false);
  EXPECT_EQ(f.Count(), size_t{kThreads * kPerThread});
}

// An operation that fails after writing, or throws, fails alone: the others of its batch are
// committed and told so, and the failing one's partial write is not.
TEST(GroupCommitter, FailedOperationDoesNotLoseTheOthersOfItsBatch) {
  Fixture f;
  constexpr int kThreads = 12, kPerThread = 30;
  std::atomic<int> ok{0}, failed{0}, threw{0};
  GroupCommitter committer(*f.env);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string key = std::to_string(t) + "-" + std::to_string(i);
        const int kind =
            (t * kPerThread + i) % 7;  // 0: fails after writing, 1: throws, else writes
        int runs = 0;
        Status s = committer.Run([&](Txn& txn) -> Status {
          ++runs;
          CA_TRY_STATUS(txn.Put(f.dbi, key, "v"));
          if (kind == 0) return Fail(ErrorCode::kFailedPrecondition, "refused after writing");
          if (kind == 1) throw std::runtime_error("boom");
          return {};
        });
        if (kind == 0) {
          EXPECT_FALSE(s);
          if (!s) {
            EXPECT_EQ(s.error().code, ErrorCode::kFailedPrecondition);
          }
          ++failed;
        } else if (kind == 1) {
          EXPECT_FALSE(s);
          if (!s) {
            EXPECT_EQ(s.error().code, ErrorCode::kInternal);
          }
          ++threw;
        } else {
          EXPECT_TRUE(s);
          EXPECT_GE(runs, 1);
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(f.Count(), static_cast<size_t>(ok.load()));
  auto txn = Txn::BeginRead(*f.env);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const int kind = (t * kPerThread + i) % 7;
      auto got = txn->Get(f.dbi, std::to_string(t) + "-" + std::to_string(i));
      ASSERT_TRUE(got);
      EXPECT_EQ(got->has_value(), kind >= 2) << t << "-" << i;
    }
  }
}

// Operations of one batch run in the order they were queued and see each other's writes.
TEST(GroupCommitter, LaterOperationsSeeEarlierWritesOfTheBatch) {
  Fixture f;
  GroupCommitter committer(*f.env);
  ASSERT_TRUE(committer.Run([&](Txn& txn) { return txn.Put(f.dbi, "counter", "0"); }));
  constexpr int kThreads = 8, kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        Status s = committer.Run([&](Txn& txn) -> Status {
          auto v = CA_TRY(txn.Get(f.dbi, "counter"));
          int n = std::stoi(std::string(v.value_or("0")));
          return txn.Put(f.dbi, "counter", std::to_string(n + 1));
        });
        ASSERT_TRUE(s);
      }
    });
  }
  for (auto& t : threads) t.join();
  auto txn = Txn::BeginRead(*f.env);
  auto v = txn->Get(f.dbi, "counter");
  ASSERT_TRUE(v && *v);
  EXPECT_EQ(**v, std::to_string(kThreads * kPerThread));
}

TEST(GroupCommitter, AWriteFromInsideAnOperationFailsInsteadOfDeadlocking) {
  Fixture f;
  GroupCommitter committer(*f.env);
  Status inner;
  Status outer = committer.Run([&](Txn& txn) -> Status {
    inner = committer.Run([&](Txn& t) { return t.Put(f.dbi, "inner", "v"); });
    return txn.Put(f.dbi, "outer", "v");
  });
  EXPECT_TRUE(outer);
  ASSERT_FALSE(inner);
  EXPECT_EQ(inner.error().code, ErrorCode::kInternal);
  EXPECT_EQ(f.Count(), 1u);
}

// Submit() queues and returns at once; each future gets its own operation's outcome once its batch
// is durable, including a refusal, and submissions share batches with Run() callers.
TEST(GroupCommitter, SubmittedOperationsReportTheirOwnOutcomeWhenCommitted) {
  Fixture f;
  GroupCommitter committer(*f.env);
  std::vector<std::future<Status>> outcomes;
  for (int i = 0; i < 40; ++i) {
    outcomes.push_back(committer.Submit([&f, i](Txn& txn) -> Status {
      if (i % 5 == 0) return Fail(ErrorCode::kFailedPrecondition, "refused " + std::to_string(i));
      return txn.Put(f.dbi, "k" + std::to_string(i), "v");
    }));
  }
  EXPECT_TRUE(committer.Run([&](Txn& txn) { return txn.Put(f.dbi, "run", "v"); }));
  for (int i = 0; i < 40; ++i) {
    Status s = outcomes[static_cast<size_t>(i)].get();
    if (i % 5 == 0) {
      ASSERT_FALSE(s) << i;
      EXPECT_EQ(s.error().message, "refused " + std::to_string(i));
    } else {
      EXPECT_TRUE(s) << i;
      auto txn = Txn::BeginRead(*f.env);
      auto v = txn->Get(f.dbi, "k" + std::to_string(i));
      ASSERT_TRUE(v);
      EXPECT_TRUE(v->has_value()) << i;  // committed before the future was ready
    }
  }
  EXPECT_EQ(f.Count(), 33u);
}

// Submissions still queued when the committer is destroyed are run, not dropped.
TEST(GroupCommitter, SubmittedOperationsRunBeforeTheCommitterStops) {
  Fixture f;
  std::vector<std::future<Status>> outcomes;
  {
    GroupCommitter committer(*f.env);
    for (int i = 0; i < 20; ++i)
      outcomes.push_back(
          committer.Submit([&f, i](Txn& txn) { return txn.Put(f.dbi, std::to_string(i), "v"); }));
  }
  for (auto& o : outcomes) EXPECT_TRUE(o.get());
  EXPECT_EQ(f.Count(), 20u);
}

// A transaction that lost a race (kv::IsConflict) is run again, not reported, while tries remain;
// once they are spent the caller gets the conflict, and nothing of the failed runs is written.
TEST(GroupCommitter, ConflictsAreRerunUntilTheTriesAreSpent) {
  Fixture f;
  GroupCommitter committer(*f.env);
  int runs = 0;
  Status s = committer.Run([&](Txn& txn) -> Status {
    CA_TRY_STATUS(txn.Put(f.dbi, "k", std::to_string(++runs)));
    if (runs < 3) return ConflictError("lost a race");
    return {};
  });
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(runs, 3);
  EXPECT_EQ(committer.stats().conflicts, 2u);
  auto txn = Txn::BeginRead(*f.env);
  auto v = txn->Get(f.dbi, "k");
  ASSERT_TRUE(v && *v);
  EXPECT_EQ(**v, "3");
  txn->Abort();

  int always = 0;
  Status lost = committer.Run([&](Txn& t) -> Status {
    ++always;
    CA_TRY_STATUS(t.Put(f.dbi, "never", "v"));
    return ConflictError("lost again");
  });
  ASSERT_FALSE(lost);
  EXPECT_TRUE(IsConflict(lost.error()));
  EXPECT_EQ(always, GroupCommitter::kConflictTries);
  EXPECT_EQ(f.Count(), 1u);
}

// The same rerun for a one-off write outside the committer (a store's once-only writes at open):
// conflicts are rerun, any other error is returned at once.
TEST(RetryOnConflict, RerunsConflictsOnlyAndBoundsThem) {
  int calls = 0, told = 0;
  Status won = RetryOnConflict(
      [&]() -> Status { return ++calls < 3 ? ConflictError("lost") : Ok(); }, [&] { ++told; });
  EXPECT_TRUE(won);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(told, 2);
  calls = 0;
  Status other = RetryOnConflict([&]() -> Status {
    ++calls;
    return Fail(ErrorCode::kInvalidArgument, "bad");
  });
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(calls, 1);
  calls = 0;
  EXPECT_FALSE(RetryOnConflict([&]() -> Status {
    ++calls;
    return ConflictError("always");
  }));
  EXPECT_EQ(calls, kConflictTries);
}

}  // namespace
}  // namespace ca::kv
