#include "kv/lmdb_env.h"

#include <lmdb.h>

#include "common/lmdb.h"

namespace ca::kv::lmdb_env {

namespace {

std::unexpected<Error> NeedsPostgres(std::string_view what = "leases") {
  return Fail(ErrorCode::kFailedPrecondition, std::string(what) + " need the PostgreSQL store");
}

class LmdbTxn final : public TxnBackend {
 public:
  LmdbTxn(lmdb::Txn txn, bool write) : txn_(std::move(txn)), write_(write) {}

  bool writable() const override { return write_; }
  Status Commit() override { return txn_.Commit(); }
  void Abort() override { txn_.Abort(); }
  Result<std::optional<std::string_view>> Get(Table table, std::string_view key) override {
    return txn_.Get(table, key);
  }
  Status Put(Table table, std::string_view key, std::string_view value) override {
    return txn_.Put(table, key, value);
  }
  Status Insert(Table table, std::string_view key, std::string_view value) override {
    return txn_.Insert(table, key, value);
  }
  Result<bool> Delete(Table table, std::string_view key) override {
    return txn_.Delete(table, key);
  }
  Status ForEachFrom(Table table, std::string_view prefix, std::string_view from,
                     const Visitor& fn) override {
    return txn_.ForEachFrom(table, prefix, from, fn);
  }
  // A read transaction only (LMDB refuses reset on a write transaction).
  void Reset() override {
    if (txn_.get() != nullptr && !write_) mdb_txn_reset(txn_.get());
  }
  Status Renew() override {
    if (txn_.get() == nullptr || write_) {
      return Fail(ErrorCode::kInternal, "renew of a finished or write transaction");
    }
    int rc = mdb_txn_renew(txn_.get());
    if (rc != 0) return lmdb::LmdbFail("renew read transaction", rc);
    return Ok();
  }

 private:
  lmdb::Txn txn_;
  bool write_;
};

class LmdbEnv final : public EnvBackend {
 public:
  explicit LmdbEnv(lmdb::Env env) : env_(std::move(env)) {}

  Result<Table> OpenTable(const std::string& name, bool create) override {
    return env_.OpenDb(name, create);
  }
  Result<std::unique_ptr<TxnBackend>> Begin(bool write) const override {
    auto txn = CA_TRY(write ? lmdb::Txn::BeginWrite(env_) : lmdb::Txn::BeginRead(env_));
    return std::unique_ptr<TxnBackend>(std::make_unique<LmdbTxn>(std::move(txn), write));
  }
  Result<Usage> GetUsage() const override {
    auto usage = CA_TRY(env_.GetUsage());
    return Usage{usage.map_bytes, usage.used_bytes};
  }
  Result<LeaseState> AcquireLease(std::string_view, std::string_view,
                                  std::chrono::milliseconds) const override {
    return NeedsPostgres();
  }
  Status ReleaseLease(std::string_view, std::string_view) const override { return NeedsPostgres(); }
  Result<LeaseState> ReadLease(std::string_view) const override { return NeedsPostgres(); }
  Status SetFence(std::shared_ptr<const Fence>) override { return NeedsPostgres(); }
  Result<ReplicationState> GetReplication() const override {
    return NeedsPostgres("replication states");
  }

 private:
  lmdb::Env env_;
};

}  // namespace

Result<std::pair<std::string, std::unique_ptr<EnvBackend>>> OpenBackend(const EnvOptions& options) {
  lmdb::EnvOptions lmdb_options;
  lmdb_options.path = options.location;
  lmdb_options.map_size = options.map_size;
  lmdb_options.max_dbs = options.max_tables;
  lmdb_options.max_readers = options.max_readers;
  lmdb_options.read_only = options.read_only;
  lmdb_options.create = options.create;
  auto env = CA_TRY(lmdb::Env::Open(lmdb_options));
  std::string canonical = env.path();
  return std::pair<std::string, std::unique_ptr<EnvBackend>>(
      std::move(canonical), std::make_unique<LmdbEnv>(std::move(env)));
}

}  // namespace ca::kv::lmdb_env
