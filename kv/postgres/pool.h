// A pool of libpq connections for one kv::Env (internal to kv/postgres/). It grows on demand up
// to a bound; a caller that finds every connection in use waits a moment, then gets
// kResourceExhausted. A connection comes back to the pool only when it is healthy and outside any
// transaction; a broken one (or one found on a read-only server) is closed, and the next caller
// opens a new one (after a failover, libpq's target_session_attrs=read-write finds the new
// primary).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "kv/postgres/connection.h"

namespace ca::kv::postgres {

struct PoolOptions {
  std::string conninfo;  // e.g. "service=ca application_name=ca-engine"
  std::string what;      // names the store in errors: "pg:ca/engine"
  size_t max_connections = 64;
  std::chrono::milliseconds wait{2000};  // for a connection when all are in use
};

class Pool : public std::enable_shared_from_this<Pool> {
 public:
  static std::shared_ptr<Pool> Create(PoolOptions options);

  // A connection borrowed from the pool; given back (or closed if broken or inside a
  // transaction) on destruction. Move-only.
  class Borrowed {
   public:
    Borrowed(Borrowed&&) noexcept = default;
    Borrowed& operator=(Borrowed&& other) noexcept;
    ~Borrowed();
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }
    // True if the connection had been idle in the pool (it may have died since).
    bool reused() const { return reused_; }

   private:
    friend class Pool;
    Borrowed(std::shared_ptr<Pool> pool, std::unique_ptr<Connection> connection, bool reused)
        : pool_(std::move(pool)), connection_(std::move(connection)), reused_(reused) {}
    void GiveBack();
    std::shared_ptr<Pool> pool_;
    std::unique_ptr<Connection> connection_;
    bool reused_ = false;
  };

  Result<Borrowed> Acquire();
  // Closes every idle connection (after one of them was found dead: the others likely are too).
  void DropIdle();

  size_t open_connections() const;  // idle + borrowed
  size_t idle_connections() const;
  const PoolOptions& options() const { return options_; }

 private:
  explicit Pool(PoolOptions options) : options_(std::move(options)) {}
  void Return(std::unique_ptr<Connection> connection);

  const PoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  size_t open_ = 0;
};

}  // namespace ca::kv::postgres
