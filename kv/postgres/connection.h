// RAII over libpq (internal to kv/postgres/): a move-only owner of a PGresult and of a PGconn,
// statements run with binary parameters and results, and the one mapping of libpq failures to
// ca::Error (serialization failures -> kv::ConflictError, a lost connection -> kUnavailable).
#pragma once

#include <libpq-fe.h>

#include <bitset>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ca::kv::postgres {

struct PgResultFree {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
// A statement's result; PQclear on destruction. Views into it stay valid while it is owned.
using PgResult = std::unique_ptr<PGresult, PgResultFree>;

// The statements this engine prepares on a connection the first time it runs them.
enum class Stmt : unsigned {
  kGet,
  kPut,
  kInsert,
  kDelete,
  kScan,         // k >= from, ORDER BY k, one chunk
  kScanBounded,  // same, k < the first key after the prefix
  kFence,
  kAcquireLease,
  kReleaseLease,
  kReadLease,
  kCount,
};

// Rows per kScan/kScanBounded round trip (the LIMIT in their SQL).
inline constexpr int kScanChunk = 256;

// Whether a statement's parameters and results travel in binary (bytea keys and values) or text.
enum class Format { kText = 0, kBinary = 1 };

// An open connection. Move-only; PQfinish on destruction.
class Connection {
 public:
  // PQconnectdb(conninfo); kUnavailable naming `what` if the server cannot be reached.
  static Result<Connection> Open(const std::string& conninfo, std::string_view what);

  bool broken() const { return PQstatus(conn_.get()) == CONNECTION_BAD; }
  // Neither broken nor found talking to a read-only server (a standby after a failover): a
  // connection the pool may give out again.
  bool usable() const { return !read_only_server_ && !broken(); }
  // No transaction open (the state a pooled connection must be returned in).
  bool idle() const { return PQtransactionStatus(conn_.get()) == PQTRANS_IDLE; }

  // A statement without parameters (BEGIN, COMMIT, a migration), text results.
  Result<PgResult> Exec(const std::string& sql, std::string_view what);
  // A prepared statement (prepared here on first use), parameters and results in `format`.
  Result<PgResult> Run(Stmt stmt, std::initializer_list<std::string_view> params, Format format);

 private:
  struct Finish {
    void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
  };
  explicit Connection(PGconn* conn) : conn_(conn) {}
  Result<PgResult> Check(PGresult* result, std::string_view what);
  std::unique_ptr<PGconn, Finish> conn_;
  std::bitset<static_cast<unsigned>(Stmt::kCount)> prepared_;
  bool read_only_server_ = false;
};

// The error of a failed statement: SQLSTATE 40001/40P01 -> kv::ConflictError; a lost connection
// (CONNECTION_BAD, class 08, admin shutdown 57P01-57P03) or a read-only server (25006, or 0A000
// about a hot standby: a standby after a failover) -> kUnavailable; anything else -> kIo. One line,
// naming `what`.
std::unexpected<Error> StatementError(std::string_view what, PGconn* conn, const PGresult* result);

// A column value of row `row` as a view into `result`.
std::string_view Value(const PGresult* result, int row, int column);

}  // namespace ca::kv::postgres
