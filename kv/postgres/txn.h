// One kv::Txn on PostgreSQL (internal to kv/postgres/): a borrowed pool connection inside
// BEGIN ISOLATION LEVEL SERIALIZABLE (write) or REPEATABLE READ READ ONLY (read). Every PGresult a
// view points into is kept until the transaction ends. A fenced write transaction checks its lease
// (FOR SHARE) right after BEGIN and writes nothing if the lease is lost.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kv/kv.h"
#include "kv/postgres/pool.h"

namespace ca::kv::postgres {

// The names behind kv::Table indices: fixed capacity so readers never see a reallocation.
class TableNames {
 public:
  explicit TableNames(unsigned capacity) : names_(capacity) {}
  // The index of `name`, added if new; kResourceExhausted past the capacity (max_tables).
  Result<Table> Intern(const std::string& name);
  // kInvalidArgument for an index OpenTable never returned.
  Result<std::string_view> Name(Table table) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> names_;
  std::atomic<unsigned> count_{0};
};

// The largest key LMDB takes (its default build): the same limit here.
inline constexpr size_t kMaxKeyBytes = 511;

struct TxnContext {
  std::shared_ptr<Pool> pool;
  std::shared_ptr<const TableNames> tables;
  std::string ns;
  std::shared_ptr<const Fence> fence;  // write transactions only; null: unfenced
};

class PgTxn final : public TxnBackend {
 public:
  static Result<std::unique_ptr<TxnBackend>> Begin(TxnContext context, bool write);
  ~PgTxn() override { Abort(); }

  bool writable() const override { return write_; }
  Status Commit() override;
  void Abort() override;
  Result<std::optional<std::string_view>> Get(Table table, std::string_view key) override;
  Status Put(Table table, std::string_view key, std::string_view value) override;
  Status Insert(Table table, std::string_view key, std::string_view value) override;
  Result<bool> Delete(Table table, std::string_view key) override;
  Status ForEachFrom(Table table, std::string_view prefix, std::string_view from,
                     const Visitor& fn) override;
  void Reset() override;
  Status Renew() override;

 private:
  PgTxn(TxnContext context, bool write) : context_(std::move(context)), write_(write) {}
  // BEGIN on a pooled connection (retried once on a fresh one if a reused one turns out dead),
  // then the fence check of a write transaction.
  Status Start();
  Status CheckFence();
  // Runs a statement of this transaction; remembers the first failure (PostgreSQL has aborted
  // the transaction then: Commit reports that failure and rolls back).
  Result<PgResult> Run(Stmt stmt, std::initializer_list<std::string_view> params);
  Status Writable(std::string_view key) const;
  void End(const char* sql);

  TxnContext context_;
  bool write_;
  std::optional<Pool::Borrowed> connection_;  // empty once ended (or after Reset)
  std::vector<PgResult> kept_;                // what returned views point into
  std::optional<Error> failed_;
};

}  // namespace ca::kv::postgres
