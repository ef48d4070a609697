#include "kv/postgres/txn.h"

#include <string>

namespace ca::kv::postgres {
namespace {

// The first key after every key that starts with `prefix` (nullopt: no bound, e.g. all 0xff).
std::optional<std::string> PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return std::nullopt;
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

}  // namespace

Result<Table> TableNames::Intern(const std::string& name) {
  std::lock_guard lock(mu_);
  unsigned count = count_.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < count; ++i) {
    if (names_[i] == name) return i;
  }
  if (count == names_.size()) {
    return Fail(
        ErrorCode::kResourceExhausted,
        "too many tables (max_tables " + std::to_string(names_.size()) + ") for table " + name);
  }
  names_[count] = name;
  count_.store(count + 1, std::memory_order_release);
  return count;
}

Result<std::string_view> TableNames::Name(Table table) const {
  if (table >= count_.load(std::memory_order_acquire)) {
    return Fail(ErrorCode::kInvalidArgument, "unknown table index " + std::to_string(table));
  }
  return std::string_view(names_[table]);
}

Result<std::unique_ptr<TxnBackend>> PgTxn::Begin(TxnContext context, bool write) {
  std::unique_ptr<PgTxn> txn(new PgTxn(std::move(context), write));
  CA_TRY_STATUS(txn->Start());
  return std::unique_ptr<TxnBackend>(std::move(txn));
}

Status PgTxn::Start() {
  const char* begin = write_ ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
                             : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
  if (write_ && context_.fence && context_.fence->epoch.load() == 0) {
    return Fail(ErrorCode::kFailedPrecondition, "lease lost: lease " + context_.fence->lease +
                                                    " is not held by " + context_.fence->holder +
                                                    " (epoch 0); this write was refused");
  }
  for (int attempt = 0;; ++attempt) {
    auto borrowed = CA_TRY(context_.pool->Acquire());
    auto begun = borrowed->Exec(begin, "BEGIN");
    if (begun) {
      connection_.emplace(std::move(borrowed));
      break;
    }
    // An idle connection may have died with its server (a restart, a failover) or be left on
    // a demoted primary: the other idle ones likely are too. Nothing was done yet, so one retry on
    // a new connection is safe.
    if (!borrowed.reused() || borrowed->usable() || attempt > 0) {
      return std::unexpected(begun.error());
    }
    context_.pool->DropIdle();
  }
  failed_.reset();
  if (write_ && context_.fence) {
    auto checked = CheckFence();
    if (!checked) {
      End("ROLLBACK");
      return checked;
    }
  }
  return Ok();
}

Status PgTxn::CheckFence() {
  const Fence& fence = *context_.fence;
  std::string epoch = std::to_string(fence.epoch.load());
  auto result =
      CA_TRY((*connection_)->Run(Stmt::kFence, {fence.lease, fence.holder, epoch}, Format::kText));
  if (PQntuples(result.get()) == 1) return Ok();
  return Fail(ErrorCode::kFailedPrecondition,
              "lease lost: lease " + fence.lease + " is no longer held by " + fence.holder +
                  " at epoch " + epoch + " (expired or taken over); this write was refused");
}

Result<PgResult> PgTxn::Run(Stmt stmt, std::initializer_list<std::string_view> params) {
  if (failed_) {
    return Fail(failed_->code, "transaction already failed: " + failed_->message);
  }
  if (!connection_) return Fail(ErrorCode::kFailedPrecondition, "transaction has ended");
  auto result = (*connection_)->Run(stmt, params, Format::kBinary);
  if (!result) failed_ = result.error();
  return result;
}

Status PgTxn::Writable(std::string_view key) const {
  if (!write_) return Fail(ErrorCode::kFailedPrecondition, "write in a read-only transaction");
  // LMDB's key limits (mdb_env_get_maxkeysize), so that a store working on one engine works on
  // the other.
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return Fail(ErrorCode::kInvalidArgument, "key of " + std::to_string(key.size()) +
                                                 " bytes: keys are 1 to " +
                                                 std::to_string(kMaxKeyBytes) + " bytes");
  }
  return Ok();
}

void PgTxn::End(const char* sql) {
  if (!connection_) return;
  // A broken connection is closed by the pool; a failed ROLLBACK leaves the connection inside a
  // transaction, so the pool closes it too.
  if (!(*connection_)->broken()) (void)(*connection_)->Exec(sql, sql);
  connection_.reset();
  kept_.clear();
}

Status PgTxn::Commit() {
  if (!connection_) return Fail(ErrorCode::kFailedPrecondition, "transaction has ended");
  if (failed_) {
    Error error = *failed_;
    End("ROLLBACK");
    return std::unexpected(error);
  }
  auto committed = (*connection_)->Exec("COMMIT", "COMMIT");
  bool lost = !committed && (*connection_)->broken();
  connection_.reset();
  kept_.clear();
  if (committed) {
    // COMMIT of a transaction PostgreSQL had already aborted answers ROLLBACK, not an error.
    if (std::string_view(PQcmdStatus(committed->get())) == "ROLLBACK") {
      return Fail(ErrorCode::kInternal, "COMMIT rolled back a failed transaction");
    }
    return Ok();
  }
  if (lost && write_) {
    return Fail(ErrorCode::kUnavailable,
                "commit outcome unknown: the PostgreSQL connection was lost during COMMIT (" +
                    committed.error().message + "); the write may or may not have been applied");
  }
  return std::unexpected(committed.error());
}

void PgTxn::Abort() {
  End("ROLLBACK");
}

void PgTxn::Reset() {
  End(write_ ? "ROLLBACK" : "COMMIT");
}

Status PgTxn::Renew() {
  if (connection_)
    return Fail(ErrorCode::kFailedPrecondition, "Renew of a transaction that was not Reset");
  return Start();
}

Result<std::optional<std::string_view>> PgTxn::Get(Table table, std::string_view key) {
  std::string_view tbl = CA_TRY(context_.tables->Name(table));
  auto result = CA_TRY(Run(Stmt::kGet, {context_.ns, tbl, key}));
  if (PQntuples(result.get()) == 0) return std::optional<std::string_view>();
  std::string_view value = Value(result.get(), 0, 0);
  kept_.push_back(std::move(result));
  return std::optional<std::string_view>(value);
}

Status PgTxn::Put(Table table, std::string_view key, std::string_view value) {
  CA_TRY_STATUS(Writable(key));
  std::string_view tbl = CA_TRY(context_.tables->Name(table));
  CA_TRY(Run(Stmt::kPut, {context_.ns, tbl, key, value}));
  return Ok();
}

Status PgTxn::Insert(Table table, std::string_view key, std::string_view value) {
  CA_TRY_STATUS(Writable(key));
  std::string_view tbl = CA_TRY(context_.tables->Name(table));
  auto result = CA_TRY(Run(Stmt::kInsert, {context_.ns, tbl, key, value}));
  if (std::string_view(PQcmdTuples(result.get())) == "0") {
    return Fail(ErrorCode::kAlreadyExists, "key already exists in table " + std::string(tbl));
  }
  return Ok();
}

Result<bool> PgTxn::Delete(Table table, std::string_view key) {
  CA_TRY_STATUS(Writable(key));
  std::string_view tbl = CA_TRY(context_.tables->Name(table));
  auto result = CA_TRY(Run(Stmt::kDelete, {context_.ns, tbl, key}));
  return std::string_view(PQcmdTuples(result.get())) != "0";
}

Status PgTxn::ForEachFrom(Table table, std::string_view prefix, std::string_view from,
                          const Visitor& fn) {
  std::string_view tbl = CA_TRY(context_.tables->Name(table));
  std::optional<std::string> end = PrefixEnd(prefix);
  std::string next(from < prefix ? prefix : from);
  for (;;) {
    auto result = end ? CA_TRY(Run(Stmt::kScanBounded, {context_.ns, tbl, next, *end}))
                      : CA_TRY(Run(Stmt::kScan, {context_.ns, tbl, next}));
    const PGresult* rows = result.get();
    int count = PQntuples(rows);
    kept_.push_back(std::move(result));  // the callback's views stay valid until the txn ends
    for (int row = 0; row < count; ++row) {
      std::string_view key = Value(rows, row, 0);
      if (!key.starts_with(prefix)) return Ok();
      if (!fn(key, Value(rows, row, 1))) return Ok();
    }
    if (count < kScanChunk) return Ok();
    // The smallest key after the last one seen (bytewise order: the key followed by a zero byte).
    next = std::string(Value(rows, count - 1, 0));
    next.push_back('\0');
  }
}

}  // namespace ca::kv::postgres
