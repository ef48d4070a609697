#include "common/lmdb.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

namespace ca::lmdb {

namespace {

std::mutex g_registry_mu;
std::set<std::string>& Registry() {
  static std::set<std::string> open_paths;
  return open_paths;
}

constexpr long kSmbSuperMagic = 0x517B;
constexpr long kCifsMagic = 0xFF534D42;
constexpr long kSmb2Magic = 0xFE534D42;
constexpr long kFuseSuperMagic = 0x65735546;
constexpr long kCephSuperMagic = 0x00c36400;
constexpr long kAfsSuperMagic = 0x5346414F;

bool IsNetworkFs(long type) {
  return type == NFS_SUPER_MAGIC || type == kSmbSuperMagic || type == kCifsMagic ||
         type == kSmb2Magic || type == kFuseSuperMagic || type == kCephSuperMagic ||
         type == kAfsSuperMagic || type == CODA_SUPER_MAGIC;
}

MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view View(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

}  // namespace

std::unexpected<Error> LmdbFail(std::string_view op, int rc) {
  ErrorCode code = ErrorCode::kIo;
  if (rc == MDB_MAP_FULL || rc == MDB_READERS_FULL || rc == MDB_DBS_FULL) {
    code = ErrorCode::kResourceExhausted;
  } else if (rc == MDB_CORRUPTED || rc == MDB_VERSION_MISMATCH || rc == MDB_INVALID) {
    code = ErrorCode::kCorrupt;
  } else if (rc == MDB_NOTFOUND || rc == ENOENT) {
    code = ErrorCode::kNotFound;
  } else if (rc == EACCES) {
    code = ErrorCode::kPermissionDenied;
  }
  return Fail(code, std::string(op) + ": " + mdb_strerror(rc));
}

Result<Env> Env::Open(const EnvOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!options.read_only && options.create) fs::create_directories(options.path, ec);
  if (!fs::is_directory(options.path, ec)) {
    return Fail(ErrorCode::kNotFound, "store directory " + options.path + " does not exist");
  }
  std::string canonical = fs::canonical(options.path, ec).string();
  if (ec) return Fail(ErrorCode::kIo, "cannot resolve " + options.path + ": " + ec.message());

  struct statfs sfs {};
  if (::statfs(canonical.c_str(), &sfs) != 0) {
    return Fail(ErrorCode::kIo, "statfs " + canonical + ": " + std::strerror(errno));
  }
  if (IsNetworkFs(static_cast<long>(sfs.f_type))) {
    return Fail(ErrorCode::kFailedPrecondition,
                "store " + canonical + " is on a network filesystem; LMDB needs a local disk");
  }

  {
    std::lock_guard lock(g_registry_mu);
    if (!Registry().insert(canonical).second) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "store " + canonical + " is already open in this process");
    }
  }
  auto unregister = [&] {
    std::lock_guard lock(g_registry_mu);
    Registry().erase(canonical);
  };

  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) {
    unregister();
    return LmdbFail("mdb_env_create", rc);
  }
  if ((rc = mdb_env_set_mapsize(env, options.map_size)) != 0 ||
      (rc = mdb_env_set_maxdbs(env, options.max_dbs)) != 0 ||
      (rc = mdb_env_set_maxreaders(env, options.max_readers)) != 0) {
    mdb_env_close(env);
    unregister();
    return LmdbFail("mdb_env_set", rc);
  }
  // MDB_NOTLS: read transactions are not tied to threads, so a thread pool can use them freely.
  unsigned flags = MDB_NOTLS;
  if (options.read_only) flags |= MDB_RDONLY;
  rc = mdb_env_open(env, canonical.c_str(), flags, 0640);
  if (rc != 0) {
    mdb_env_close(env);
    unregister();
    return LmdbFail("open store " + canonical, rc);
  }
  return Env(env, canonical, options.read_only);
}

Env::Env(Env&& other) noexcept
    : env_(std::exchange(other.env_, nullptr)),
      path_(std::move(other.path_)),
      read_only_(other.read_only_) {}

Env& Env::operator=(Env&& other) noexcept {
  if (this != &other) {
    this->~Env();
    env_ = std::exchange(other.env_, nullptr);
    path_ = std::move(other.path_);
    read_only_ = other.read_only_;
  }
  return *this;
}

Env::~Env() {
  if (env_ != nullptr) {
    mdb_env_close(env_);
    env_ = nullptr;
    std::lock_guard lock(g_registry_mu);
    Registry().erase(path_);
  }
}

Result<MDB_dbi> Env::OpenDb(const std::string& name, bool create) {
  auto txn = read_only_ ? Txn::BeginRead(*this) : Txn::BeginWrite(*this);
  if (!txn) return std::unexpected(txn.error());
  MDB_dbi dbi = 0;
  unsigned flags = (create && !read_only_) ? MDB_CREATE : 0;
  int rc = mdb_dbi_open(txn->get(), name.c_str(), flags, &dbi);
  if (rc != 0) return LmdbFail("open database '" + name + "'", rc);
  CA_TRY_STATUS(txn->Commit());
  return dbi;
}

Result<Txn> Txn::BeginRead(const Env& env) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env.get(), nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return LmdbFail("begin read transaction", rc);
  return Txn(txn);
}

Result<Txn> Txn::BeginWrite(const Env& env) {
  if (env.read_only()) {
    return Fail(ErrorCode::kPermissionDenied, "store " + env.path() + " is open read-only");
  }
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env.get(), nullptr, 0, &txn);
  if (rc != 0) return LmdbFail("begin write transaction", rc);
  return Txn(txn);
}

Txn::Txn(Txn&& other) noexcept : txn_(std::exchange(other.txn_, nullptr)) {}

Txn& Txn::operator=(Txn&& other) noexcept {
  if (this != &other) {
    Abort();
    txn_ = std::exchange(other.txn_, nullptr);
  }
  return *this;
}

Txn::~Txn() { Abort(); }

Status Txn::Commit() {
  if (txn_ == nullptr) return Fail(ErrorCode::kInternal, "commit of a finished transaction");
  int rc = mdb_txn_commit(std::exchange(txn_, nullptr));
  if (rc != 0) return LmdbFail("commit", rc);
  return Ok();
}

void Txn::Abort() {
  if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
}

Result<std::optional<std::string_view>> Txn::Get(MDB_dbi dbi, std::string_view key) const {
  MDB_val k = Val(key), v{};
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != 0) return LmdbFail("get", rc);
  return std::optional<std::string_view>(View(v));
}

Status Txn::Put(MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = Val(key), v = Val(value);
  int rc = mdb_put(txn_, dbi, &k, &v, 0);
  if (rc != 0) return LmdbFail("put", rc);
  return Ok();
}

Status Txn::Insert(MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = Val(key), v = Val(value);
  int rc = mdb_put(txn_, dbi, &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return Fail(ErrorCode::kAlreadyExists, "key already present");
  if (rc != 0) return LmdbFail("insert", rc);
  return Ok();
}

Result<bool> Txn::Delete(MDB_dbi dbi, std::string_view key) {
  MDB_val k = Val(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return LmdbFail("delete", rc);
  return true;
}

Status Txn::ForEach(MDB_dbi dbi, std::string_view prefix,
                    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  return ForEachFrom(dbi, prefix, prefix, fn);
}

Status Txn::ForEachFrom(MDB_dbi dbi, std::string_view prefix, std::string_view from,
                        const std::function<bool(std::string_view, std::string_view)>& fn) const {
  return lmdb::ForEachFrom(txn_, dbi, prefix, from, fn);
}

Status ForEachFrom(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix, std::string_view from,
                   const std::function<bool(std::string_view, std::string_view)>& fn) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cursor);
  if (rc != 0) return LmdbFail("open cursor", rc);
  struct CursorCloser {
    MDB_cursor* c;
    ~CursorCloser() { mdb_cursor_close(c); }
  } closer{cursor};
  MDB_val k = Val(from), v{};
  rc = from.empty() ? mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
                    : mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  while (rc == 0) {
    std::string_view key = View(k);
    if (!prefix.empty() && !key.starts_with(prefix)) break;
    if (!fn(key, View(v))) break;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbFail("cursor", rc);
  return Ok();
}

namespace {

// Pages on LMDB's free list (database 0: each value is an MDB_ID array whose first element is its
// length): written once, freed by deletions, reused by later writes.
Result<size_t> FreePages(const Env& env) {
  auto txn = CA_TRY(Txn::BeginRead(env));
  size_t pages = 0;
  CA_TRY_STATUS(txn.ForEach(0, "", [&](std::string_view, std::string_view value) {
    if (value.size() >= sizeof(size_t)) {
      size_t count = 0;
      std::memcpy(&count, value.data(), sizeof count);
      pages += count;
    }
    return true;
  }));
  return pages;
}

}  // namespace

Result<Env::Usage> Env::GetUsage() const {
  MDB_envinfo info{};
  MDB_stat stat{};
  int rc = mdb_env_info(env_, &info);
  if (rc == 0) rc = mdb_env_stat(env_, &stat);
  if (rc != 0) return LmdbFail("mdb_env_info", rc);
  size_t free_pages = CA_TRY(FreePages(*this));
  size_t written = info.me_last_pgno + 1;
  size_t in_use = written > free_pages ? written - free_pages : 0;
  return Usage{info.me_mapsize, in_use * static_cast<size_t>(stat.ms_psize)};
}

}  // namespace ca::lmdb
