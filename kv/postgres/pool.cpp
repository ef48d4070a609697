#include "kv/postgres/pool.h"

namespace ca::kv::postgres {

std::shared_ptr<Pool> Pool::Create(PoolOptions options) {
  return std::shared_ptr<Pool>(new Pool(std::move(options)));
}

Result<Pool::Borrowed> Pool::Acquire() {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + options_.wait;
  while (idle_.empty() && open_ >= options_.max_connections) {
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.max_connections) {
      return Fail(ErrorCode::kResourceExhausted,
                  "PostgreSQL connection pool of " + options_.what + " exhausted: all " +
                      std::to_string(options_.max_connections) + " connections in use");
    }
  }
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return Borrowed(shared_from_this(), std::move(connection), true);
  }
  ++open_;
  lock.unlock();  // connecting takes a round trip or a timeout: not under the lock
  auto opened = Connection::Open(options_.conninfo, options_.what);
  if (!opened) {
    lock.lock();
    --open_;
    freed_.notify_one();
    return std::unexpected(opened.error());
  }
  return Borrowed(shared_from_this(), std::make_unique<Connection>(std::move(*opened)), false);
}

void Pool::Return(std::unique_ptr<Connection> connection) {
  bool keep = connection->usable() && connection->idle();
  std::unique_ptr<Connection> closing;
  {
    std::lock_guard lock(mu_);
    if (keep) {
      idle_.push_back(std::move(connection));
    } else {
      --open_;
      closing = std::move(connection);
    }
  }
  freed_.notify_one();
  // `closing` (PQfinish) runs here, outside the lock.
}

void Pool::DropIdle() {
  std::vector<std::unique_ptr<Connection>> closing;
  {
    std::lock_guard lock(mu_);
    open_ -= idle_.size();
    closing.swap(idle_);
  }
  freed_.notify_all();
}

size_t Pool::open_connections() const {
  std::lock_guard lock(mu_);
  return open_;
}

size_t Pool::idle_connections() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

void Pool::Borrowed::GiveBack() {
  if (pool_ && connection_) pool_->Return(std::move(connection_));
  pool_.reset();
}

Pool::Borrowed& Pool::Borrowed::operator=(Borrowed&& other) noexcept {
  if (this != &other) {
    GiveBack();
    pool_ = std::move(other.pool_);
    connection_ = std::move(other.connection_);
    reused_ = other.reused_;
  }
  return *this;
}

Pool::Borrowed::~Borrowed() {
  GiveBack();
}

}  // namespace ca::kv::postgres
