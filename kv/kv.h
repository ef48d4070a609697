// The one transactional key-value interface every store of the appliance is written against (the CA
// store, the status store, the gateway's ACME store, the policy store, the reporter's state), with
// two engines behind it (issue 20):
//   * LMDB (kv/lmdb_env.*), the embedded default of a single box: a location is a directory;
//   * PostgreSQL (kv/postgres/), the pair: a location "pg:<service>/<namespace>" names a libpq
//     connection service (pg_service.conf: hosts, database, user, passfile; never a password in a
//     config file or argv) and the namespace of this store's tables in that database.
// Stores keep one copy of their semantic code (reservation before C_Sign, serial uniqueness,
// refusals that change nothing) whatever the engine.
//
// Semantics both engines give:
//   * a write transaction is atomic and durable once Commit returns (LMDB: fsync; PostgreSQL:
//     committed on the primary and, in a pair, applied on the synchronous standby);
//   * a read transaction is one consistent snapshot;
//   * keys are ordered bytewise (memcmp, then shorter first): ForEach visits keys in that order;
//   * a view returned by Get or passed to a ForEach callback stays valid until the transaction ends.
//   * a write transaction that lost a race with another writer (PostgreSQL serialization failure;
//     never with LMDB's single writer) fails with an error for which IsConflict() is true, having
//     written nothing: the caller reruns it (kv/group_commit.h does).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ca::kv {

// A named table of one store (from Env::OpenTable): valid for the Env's lifetime, shared by threads.
using Table = unsigned;

using Visitor = std::function<bool(std::string_view key, std::string_view value)>;

// What an engine implements for one transaction.
class TxnBackend {
 public:
  virtual ~TxnBackend() = default;
  virtual bool writable() const = 0;
  virtual Status Commit() = 0;
  virtual void Abort() = 0;
  virtual Result<std::optional<std::string_view>> Get(Table table, std::string_view key) = 0;
  virtual Status Put(Table table, std::string_view key, std::string_view value) = 0;
  virtual Status Insert(Table table, std::string_view key, std::string_view value) = 0;
  virtual Result<bool> Delete(Table table, std::string_view key) = 0;
  virtual Status ForEachFrom(Table table, std::string_view prefix, std::string_view from,
                             const Visitor& fn) = 0;
  // Read transactions kept by a worker thread: end the snapshot (releasing what it pins), then
  // start a new one on the same resources (LMDB: mdb_txn_reset / mdb_txn_renew).
  virtual void Reset() = 0;
  virtual Status Renew() = 0;
};

class Env;

class Txn {
 public:
  static Result<Txn> BeginRead(const Env& env);
  static Result<Txn> BeginWrite(const Env& env);

  Txn(Txn&&) noexcept = default;
  Txn& operator=(Txn&&) noexcept = default;
  ~Txn();  // aborts if neither committed nor aborted

  bool writable() const { return backend_->writable(); }
  Status Commit();
  void Abort();
  void Reset() { backend_->Reset(); }
  Status Renew() { return backend_->Renew(); }

  // nullopt when the key is absent (view valid until the transaction ends).
  Result<std::optional<std::string_view>> Get(Table table, std::string_view key) const {
    return backend_->Get(table, key);
  }
  Status Put(Table table, std::string_view key, std::string_view value) {
    return backend_->Put(table, key, value);
  }
  // Fails with kAlreadyExists if the key is present.
  Status Insert(Table table, std::string_view key, std::string_view value) {
    return backend_->Insert(table, key, value);
  }
  // Returns whether a key was deleted.
  Result<bool> Delete(Table table, std::string_view key) { return backend_->Delete(table, key); }
  // Visits, in key order, the keys that start with `prefix` (all keys if empty) while `fn`
  // returns true.
  Status ForEach(Table table, std::string_view prefix, const Visitor& fn) const {
    return backend_->ForEachFrom(table, prefix, prefix, fn);
  }
  // Same, from the first key >= `from` (which should itself start with `prefix`).
  Status ForEachFrom(Table table, std::string_view prefix, std::string_view from,
                     const Visitor& fn) const {
    return backend_->ForEachFrom(table, prefix, from, fn);
  }

  TxnBackend& backend() const { return *backend_; }  // for an engine's own helpers only

 private:
  explicit Txn(std::unique_ptr<TxnBackend> backend) : backend_(std::move(backend)) {}
  std::unique_ptr<TxnBackend> backend_;
};

// A lease (PostgreSQL only): one holder at a time, by the database server's clock. Taking it from
// another holder (after its expiry) bumps the epoch.
struct LeaseState {
  bool held = false;           // by the holder that asked
  std::string holder;          // the current holder ("" if never taken)
  uint64_t epoch = 0;          // bumped on every change of holder
  std::chrono::milliseconds remaining{0};  // until expiry, by the server's clock (0 if expired)
};

// A fence on an Env: every write transaction first checks, inside itself (and locks against a
// concurrent takeover), that lease `lease` is held by `holder` at `epoch` and not expired; if not,
// the transaction writes nothing and fails with kFailedPrecondition ("lease lost"). The owner
// updates `epoch` when it (re)acquires the lease; 0 means "not held": every write is refused.
struct Fence {
  std::string lease;
  std::string holder;
  std::atomic<uint64_t> epoch{0};
};

// The database's replication as seen from its primary (PostgreSQL only), for the pair's gauges.
struct ReplicationState {
  // synchronous_standby_names is set: a commit returns only once a standby has it. pg_auto_failover
  // clears it while the standby is away, so 0 means the pair runs degraded (one copy).
  bool sync_commit = false;
  struct Standby {
    std::string name;        // application_name (the node)
    std::string state;       // streaming, catchup, ... ("" when the role may not read it)
    std::string sync_state;  // sync, quorum, potential, async
    double replay_lag_seconds = 0;
  };
  std::vector<Standby> standbys;  // by name
  // Standbys streaming whose commits the primary waits for (sync_state sync or quorum).
  size_t SyncStandbys() const;
};

enum class Engine { kLmdb, kPostgres };

struct EnvOptions {
  // A directory (LMDB) or "pg:<service>/<namespace>" (PostgreSQL).
  std::string location;
  size_t map_size = size_t{1} << 32;  // LMDB: address space; the file grows as needed
  unsigned max_tables = 16;
  unsigned max_readers = 512;         // LMDB
  bool read_only = false;
  bool create = false;  // create the directory / namespace if missing (writers only)
};

// What an engine implements for one open store.
class EnvBackend {
 public:
  virtual ~EnvBackend() = default;
  virtual Result<Table> OpenTable(const std::string& name, bool create) = 0;
  virtual Result<std::unique_ptr<TxnBackend>> Begin(bool write) const = 0;
  struct Usage {
    size_t map_bytes = 0;   // LMDB: the map size; PostgreSQL: 0 (no fixed ceiling)
    size_t used_bytes = 0;  // LMDB: pages in use; PostgreSQL: this namespace's rows
  };
  virtual Result<Usage> GetUsage() const = 0;
  virtual Result<LeaseState> AcquireLease(std::string_view lease, std::string_view holder,
                                          std::chrono::milliseconds ttl) const = 0;
  virtual Status ReleaseLease(std::string_view lease, std::string_view holder) const = 0;
  virtual Result<LeaseState> ReadLease(std::string_view lease) const = 0;
  virtual Status SetFence(std::shared_ptr<const Fence> fence) = 0;
  virtual Result<ReplicationState> GetReplication() const = 0;
};

class Env {
 public:
  // Dispatches on the location: "pg:" is PostgreSQL, anything else an LMDB directory.
  static Result<Env> Open(const EnvOptions& options);

  Env(Env&&) noexcept = default;
  Env& operator=(Env&&) noexcept = default;
  ~Env();

  Engine engine() const { return engine_; }
  const std::string& location() const { return location_; }  // canonical for LMDB
  bool read_only() const { return read_only_; }

  // Opens (or, in a writer, creates) a named table. Call once at start-up.
  Result<Table> OpenTable(const std::string& name, bool create) { return backend_->OpenTable(name, create); }
  using Usage = EnvBackend::Usage;
  Result<Usage> GetUsage() const { return backend_->GetUsage(); }

  // Leases and fences: kFailedPrecondition on LMDB ("leases need the PostgreSQL store").
  // AcquireLease takes the lease if it is free, expired or already the holder's (then it renews
  // it, same epoch) and reports the state either way (held=false: someone else holds it).
  Result<LeaseState> AcquireLease(std::string_view lease, std::string_view holder,
                                  std::chrono::milliseconds ttl) const {
    return backend_->AcquireLease(lease, holder, ttl);
  }
  // Ends the holder's lease at once (a clean shutdown: the standby need not wait for expiry).
  Status ReleaseLease(std::string_view lease, std::string_view holder) const {
    return backend_->ReleaseLease(lease, holder);
  }
  Result<LeaseState> ReadLease(std::string_view lease) const { return backend_->ReadLease(lease); }
  Status SetFence(std::shared_ptr<const Fence> fence) { return backend_->SetFence(std::move(fence)); }
  // Asks the primary (kFailedPrecondition on LMDB; the error of the connection when no read-write
  // server answers).
  Result<ReplicationState> GetReplication() const { return backend_->GetReplication(); }

  EnvBackend& backend() const { return *backend_; }

 private:
  friend class Txn;
  Env(Engine engine, std::string location, bool read_only, std::unique_ptr<EnvBackend> backend)
      : engine_(engine), location_(std::move(location)), read_only_(read_only),
        backend_(std::move(backend)) {}
  Engine engine_ = Engine::kLmdb;
  std::string location_;
  bool read_only_ = false;
  std::unique_ptr<EnvBackend> backend_;
};

// True for the error of a write transaction that lost a race (rerun it); see the header comment.
bool IsConflict(const Error& error);
// Runs `attempt` (a whole write transaction) again while it fails with a conflict, up to
// kConflictTries times, backing off 1..10 ms; `on_conflict` (may be empty) is told of each rerun.
inline constexpr int kConflictTries = 20;
Status RetryOnConflict(const std::function<Status()>& attempt,
                       const std::function<void()>& on_conflict = nullptr);
// The error an engine returns for such a race.
std::unexpected<Error> ConflictError(std::string_view detail);

bool IsPostgresLocation(std::string_view location);  // "pg:..."

}  // namespace ca::kv
