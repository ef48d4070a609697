#include "kv/kv.h"

#include <thread>

#include "kv/lmdb_env.h"
#include "kv/postgres/backend.h"

namespace ca::kv {
namespace {
constexpr std::string_view kConflictPrefix = "write conflict: ";
}  // namespace

Txn::~Txn() {
  if (backend_) backend_->Abort();
}

Result<Txn> Txn::BeginRead(const Env& env) { return Txn(CA_TRY(env.backend_->Begin(false))); }

Result<Txn> Txn::BeginWrite(const Env& env) {
  if (env.read_only())
    return Fail(ErrorCode::kPermissionDenied, "store " + env.location() + " is open read-only");
  return Txn(CA_TRY(env.backend_->Begin(true)));
}

Status Txn::Commit() { return backend_->Commit(); }
void Txn::Abort() { backend_->Abort(); }

Env::~Env() = default;

bool IsPostgresLocation(std::string_view location) { return location.starts_with("pg:"); }

Result<Env> Env::Open(const EnvOptions& options) {
  if (IsPostgresLocation(options.location)) {
    auto backend = CA_TRY(postgres::OpenBackend(options));
    return Env(Engine::kPostgres, options.location, options.read_only, std::move(backend));
  }
  auto [canonical, backend] = CA_TRY(lmdb_env::OpenBackend(options));
  return Env(Engine::kLmdb, std::move(canonical), options.read_only, std::move(backend));
}

size_t ReplicationState::SyncStandbys() const {
  size_t n = 0;
  for (const auto& s : standbys)
    n += s.state == "streaming" && (s.sync_state == "sync" || s.sync_state == "quorum");
  return n;
}

Status RetryOnConflict(const std::function<Status()>& attempt,
                       const std::function<void()>& on_conflict) {
  for (int tries = 1;; ++tries) {
    Status s = attempt();
    if (s || !IsConflict(s.error()) || tries >= kConflictTries) return s;
    if (on_conflict) on_conflict();
    // The other writer usually commits within milliseconds: back off a little more each time.
    std::this_thread::sleep_for(std::chrono::milliseconds(tries < 10 ? tries : 10));
  }
}

bool IsConflict(const Error& error) {
  return error.code == ErrorCode::kUnavailable && error.message.starts_with(kConflictPrefix);
}

std::unexpected<Error> ConflictError(std::string_view detail) {
  return Fail(ErrorCode::kUnavailable, std::string(kConflictPrefix) + std::string(detail));
}

}  // namespace ca::kv
