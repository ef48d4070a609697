// RAII over LMDB: one Env per store file per process, read and write transactions, named DBs.
// Default durability only (no MDB_NOSYNC / MDB_NOMETASYNC): a committed write survives a crash.
#pragma once

#include <lmdb.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ca::lmdb {

struct EnvOptions {
  std::string path;              // a directory holding data.mdb / lock.mdb
  size_t map_size = size_t{1} << 32;  // 4 GiB of address space; file grows as needed
  unsigned max_dbs = 16;
  unsigned max_readers = 512;
  bool read_only = false;
  bool create = false;  // create the directory if missing (writers only)
};

class Env {
 public:
  // Refuses a path on a network filesystem (NFS, SMB/CIFS, FUSE…: LMDB locking is unsafe there) and
  // a store that this process already has open (LMDB forbids two Envs on one file per process).
  static Result<Env> Open(const EnvOptions& options);

  Env(Env&& other) noexcept;
  Env& operator=(Env&& other) noexcept;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  ~Env();

  MDB_env* get() const { return env_; }
  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }

  // Opens (or, in a writer, creates) a named database. Call once at start-up: the handle is valid
  // for the Env's lifetime and shared by all threads.
  Result<MDB_dbi> OpenDb(const std::string& name, bool create);

  // How full the map is: the map size and the bytes of pages in use (the last page written;
  // pages freed by deletions are reused by later writes before the map grows).
  struct Usage {
    size_t map_bytes = 0;
    size_t used_bytes = 0;
  };
  Result<Usage> GetUsage() const;

 private:
  Env(MDB_env* env, std::string path, bool read_only)
      : env_(env), path_(std::move(path)), read_only_(read_only) {}
  MDB_env* env_ = nullptr;
  std::string path_;  // canonical path, key of the per-process registry
  bool read_only_ = false;
};

class Txn {
 public:
  static Result<Txn> BeginRead(const Env& env);
  static Result<Txn> BeginWrite(const Env& env);

  Txn(Txn&& other) noexcept;
  Txn& operator=(Txn&& other) noexcept;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn();  // aborts if neither committed nor aborted

  Status Commit();
  void Abort();

  // nullopt when the key is absent. The view points into the map and is valid until the
  // transaction ends; copy what must outlive it.
  Result<std::optional<std::string_view>> Get(MDB_dbi dbi, std::string_view key) const;
  Status Put(MDB_dbi dbi, std::string_view key, std::string_view value);
  // Fails with kAlreadyExists if the key is present.
  Status Insert(MDB_dbi dbi, std::string_view key, std::string_view value);
  // Returns whether a key was deleted.
  Result<bool> Delete(MDB_dbi dbi, std::string_view key);

  // Visits, in key order, the keys that start with `prefix` (all keys if empty) while `fn`
  // returns true.
  Status ForEach(MDB_dbi dbi, std::string_view prefix,
                 const std::function<bool(std::string_view key, std::string_view value)>& fn) const;
  // Same, starting at the first key >= `from` (which should itself start with `prefix`): a range
  // scan that does not walk the keys before `from`.
  Status ForEachFrom(MDB_dbi dbi, std::string_view prefix, std::string_view from,
                     const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  MDB_txn* get() const { return txn_; }

 private:
  explicit Txn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn_ = nullptr;
};

// Txn::ForEachFrom on a raw transaction (readers that keep their own MDB_txn, e.g. a reset/renewed
// read transaction per worker).
Status ForEachFrom(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix, std::string_view from,
                   const std::function<bool(std::string_view key, std::string_view value)>& fn);

// "mdb_put: MDB_MAP_FULL: ..." style message for an LMDB return code.
std::unexpected<Error> LmdbFail(std::string_view op, int rc);

}  // namespace ca::lmdb
