#include "kv/postgres/backend.h"

#include <errno.h>
#include <charconv>
#include <cstdlib>
#include <mutex>

#include "kv/postgres/location.h"
#include "kv/postgres/migrations.h"
#include "kv/postgres/pool.h"
#include "kv/postgres/txn.h"

namespace ca::kv::postgres {
namespace {

Result<int64_t> ParseInteger(std::string_view text, std::string_view what) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Fail(ErrorCode::kCorrupt,
                "lease table: unreadable " + std::string(what) + " '" + std::string(text) + "'");
  }
  return value;
}

// Row (held, holder, epoch, remaining_ms) of the lease statements, in text format.
Result<LeaseState> ReadLeaseRow(const PgResult& result) {
  LeaseState state;
  if (PQntuples(result.get()) == 0) return state;
  state.held = Value(result.get(), 0, 0) == "t";
  state.holder = std::string(Value(result.get(), 0, 1));
  state.epoch = static_cast<uint64_t>(CA_TRY(ParseInteger(Value(result.get(), 0, 2), "epoch")));
  state.remaining =
      std::chrono::milliseconds(CA_TRY(ParseInteger(Value(result.get(), 0, 3), "expiry")));
  return state;
}

class PgEnvBackend final : public EnvBackend {
 public:
  PgEnvBackend(std::shared_ptr<Pool> pool, std::string ns, unsigned max_tables)
      : pool_(std::move(pool)),
        ns_(std::move(ns)),
        tables_(std::make_shared<TableNames>(max_tables)) {}

  Result<Table> OpenTable(const std::string& name, bool /*create*/) override {
    // Tables are rows of the one kv table (column tbl): nothing to create.
    return tables_->Intern(name);
  }

  Result<std::unique_ptr<TxnBackend>> Begin(bool write) const override {
    TxnContext context{.pool = pool_, .tables = tables_, .ns = ns_, .fence = nullptr};
    if (write) {
      std::lock_guard lock(fence_mu_);
      context.fence = fence_;
    }
    return PgTxn::Begin(std::move(context), write);
  }

  Result<Usage> GetUsage() const override {
    // The whole kv table's size on disk (shared by every namespace of the database), O(1): a
    // namespace's exact byte count would scan all its rows on every metrics scrape.
    auto connection = CA_TRY(pool_->Acquire());
    auto result = CA_TRY(connection->Exec("SELECT pg_total_relation_size('kv')", "GetUsage"));
    int64_t bytes = CA_TRY(ParseInteger(Value(result.get(), 0, 0), "relation size"));
    return Usage{.map_bytes = 0, .used_bytes = static_cast<size_t>(bytes)};
  }

  Result<LeaseState> AcquireLease(std::string_view lease, std::string_view holder,
                                  std::chrono::milliseconds ttl) const override {
    CA_TRY_STATUS(CheckLeaseArguments(lease, holder));
    if (ttl.count() <= 0) return Fail(ErrorCode::kInvalidArgument, "lease ttl must be positive");
    auto connection = CA_TRY(pool_->Acquire());
    std::string ttl_ms = std::to_string(ttl.count());
    auto result =
        CA_TRY(connection->Run(Stmt::kAcquireLease, {lease, holder, ttl_ms}, Format::kText));
    return ReadLeaseRow(result);
  }

  Status ReleaseLease(std::string_view lease, std::string_view holder) const override {
    CA_TRY_STATUS(CheckLeaseArguments(lease, holder));
    auto connection = CA_TRY(pool_->Acquire());
    CA_TRY(connection->Run(Stmt::kReleaseLease, {lease, holder}, Format::kText));
    return Ok();
  }

  Result<LeaseState> ReadLease(std::string_view lease) const override {
    CA_TRY_STATUS(CheckLeaseArguments(lease, "-"));
    auto connection = CA_TRY(pool_->Acquire());
    auto result = CA_TRY(connection->Run(Stmt::kReadLease, {lease}, Format::kText));
    return ReadLeaseRow(result);
  }

  Result<ReplicationState> GetReplication() const override {
    // The pool reaches the read-write server only (target_session_attrs), so this is the primary.
    // Its standbys' state columns are NULL unless the role has pg_read_all_stats (acme-ca-pair
    // grants it); replay_lag is NULL while a standby has nothing to replay.
    auto connection = CA_TRY(pool_->Acquire());
    auto setting = CA_TRY(connection->Exec(
        "SELECT current_setting('synchronous_standby_names') <> ''", "GetReplication"));
    ReplicationState out;
    out.sync_commit = Value(setting.get(), 0, 0) == "t";
    auto rows = CA_TRY(connection->Exec(
        "SELECT application_name, COALESCE(state, ''), COALESCE(sync_state, ''), "
        "COALESCE(EXTRACT(EPOCH FROM replay_lag), 0)::float8 FROM pg_stat_replication "
        "ORDER BY application_name",
        "GetReplication"));
    for (int row = 0; row < PQntuples(rows.get()); ++row) {
      ReplicationState::Standby standby{std::string(Value(rows.get(), row, 0)),
                                        std::string(Value(rows.get(), row, 1)),
                                        std::string(Value(rows.get(), row, 2)), 0};
      standby.replay_lag_seconds =
          std::strtod(std::string(Value(rows.get(), row, 3)).c_str(), nullptr);
      out.standbys.push_back(std::move(standby));
    }
    return out;
  }

  Status SetFence(std::shared_ptr<const Fence> fence) override {
    if (fence) CA_TRY_STATUS(CheckLeaseArguments(fence->lease, fence->holder));
    std::lock_guard lock(fence_mu_);
    fence_ = std::move(fence);
    return Ok();
  }

 private:
  static Status CheckLeaseArguments(std::string_view lease, std::string_view holder) {
    // Text parameters travel NUL-terminated: a NUL would cut them.
    if (lease.empty() || holder.empty() || lease.find('\0') != std::string_view::npos ||
        holder.find('\0') != std::string_view::npos) {
      return Fail(ErrorCode::kInvalidArgument, "lease name and holder must be non-empty text");
    }
    return Ok();
  }

  std::shared_ptr<Pool> pool_;
  std::string ns_;
  std::shared_ptr<TableNames> tables_;
  mutable std::mutex fence_mu_;
  std::shared_ptr<const Fence> fence_;
};

}  // namespace

Result<std::unique_ptr<EnvBackend>> OpenBackend(const EnvOptions& options) {
  PgLocation location = CA_TRY(ParseLocation(options.location));
  auto pool = Pool::Create(
      {.conninfo = Conninfo(location, program_invocation_short_name), .what = options.location});
  {
    auto connection = CA_TRY(pool->Acquire());
    if (options.read_only) {
      CA_TRY_STATUS(CheckSchemaVersion(*connection));
    } else {
      CA_TRY(Migrate(*connection));
    }
  }
  return std::unique_ptr<EnvBackend>(
      new PgEnvBackend(std::move(pool), std::move(location.ns), options.max_tables));
}

}  // namespace ca::kv::postgres
