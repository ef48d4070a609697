#include "kv/postgres/connection.h"

#include <array>
#include <cstring>
#include <vector>

#include "kv/kv.h"

namespace ca::kv::postgres {
namespace {

struct StatementText {
  const char* name;
  const char* sql;
};

// Keys and values are bytea in binary format; ns and tbl are text (binary text = its bytes).
// Lease statements take and return text. Time is the server's: now() is the statement's start in
// autocommit; the fence uses clock_timestamp() (the moment of the check, inside the transaction).
constexpr std::array<StatementText, static_cast<size_t>(Stmt::kCount)> kStatements = {{
    {"kv_get", "SELECT v FROM kv WHERE ns = $1 AND tbl = $2 AND k = $3"},
    {"kv_put",
     "INSERT INTO kv (ns, tbl, k, v) VALUES ($1, $2, $3, $4) "
     "ON CONFLICT (ns, tbl, k) DO UPDATE SET v = EXCLUDED.v"},
    // DO NOTHING rather than catching 23505: an error would abort the whole
    // transaction.
    {"kv_insert",
     "INSERT INTO kv (ns, tbl, k, v) VALUES ($1, $2, $3, $4) ON CONFLICT (ns, tbl, "
     "k) DO NOTHING"},
    {"kv_delete", "DELETE FROM kv WHERE ns = $1 AND tbl = $2 AND k = $3"},
    {"kv_scan",
     "SELECT k, v FROM kv WHERE ns = $1 AND tbl = $2 AND k >= $3 ORDER BY k LIMIT "
     "256"},  // kScanChunk
    {"kv_scan_bounded",
     "SELECT k, v FROM kv WHERE ns = $1 AND tbl = $2 AND k >= $3 AND k < $4 ORDER "
     "BY k LIMIT 256"},
    {"kv_fence",
     "SELECT epoch FROM lease WHERE name = $1 AND holder = $2 AND epoch = "
     "$3::bigint "
     "AND expires_at > clock_timestamp() FOR SHARE"},
    // One statement: take the lease if free, expired or already ours (then renew
    // it, same epoch; a change of holder bumps the epoch), and report the state
    // either way. When the update's WHERE refuses, `taken` is empty and the current
    // row is reported with held = false.
    {"lease_acquire",
     "WITH taken AS ("
     " INSERT INTO lease AS l (name, holder, epoch, expires_at)"
     " VALUES ($1, $2, 1, now() + $3::bigint * interval '1 millisecond')"
     " ON CONFLICT (name) DO UPDATE SET"
     "  epoch = CASE WHEN l.holder = EXCLUDED.holder THEN l.epoch ELSE l.epoch + 1 "
     "END,"
     "  holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at"
     " WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now()"
     " RETURNING holder, epoch, expires_at) "
     "SELECT true, holder, epoch,"
     " GREATEST(0, ceil(extract(epoch FROM expires_at - now()) * 1000))::bigint "
     "FROM taken "
     "UNION ALL "
     "SELECT false, holder, epoch,"
     " GREATEST(0, ceil(extract(epoch FROM expires_at - now()) * 1000))::bigint "
     "FROM lease"
     " WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM taken)"},
    {"lease_release",
     "UPDATE lease SET expires_at = now() WHERE name = $1 AND holder = $2 AND "
     "expires_at > now()"},
    {"lease_read",
     "SELECT false, holder, epoch,"
     " GREATEST(0, ceil(extract(epoch FROM expires_at - now()) * 1000))::bigint"
     " FROM lease WHERE name = $1"},
}};

// libpq messages end with a newline and may span lines (DETAIL, HINT): one line for our logs.
std::string OneLine(const char* message) {
  std::string line = message ? message : "";
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  return line;
}

}  // namespace

std::unexpected<Error> StatementError(std::string_view what, PGconn* conn, const PGresult* result) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state ? state : "";
  std::string message = OneLine(result ? PQresultErrorMessage(result) : nullptr);
  if (message.empty()) message = OneLine(PQerrorMessage(conn));
  std::string detail = std::string(what) + ": " + message;
  if (sqlstate == "40001" || sqlstate == "40P01") return ConflictError(detail);
  if (PQstatus(conn) == CONNECTION_BAD || sqlstate.starts_with("08") || sqlstate == "57P01" ||
      sqlstate == "57P02" || sqlstate == "57P03") {
    return Fail(ErrorCode::kUnavailable, "PostgreSQL connection lost during " + detail);
  }
  if (sqlstate == "25006" ||
      (sqlstate == "0A000" && message.find("hot standby") != std::string::npos)) {
    return Fail(ErrorCode::kUnavailable,
                "PostgreSQL server is read-only (a standby; the primary moved?) during " + detail);
  }
  return Fail(ErrorCode::kIo,
              "PostgreSQL " + detail + (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")"));
}

std::string_view Value(const PGresult* result, int row, int column) {
  return {PQgetvalue(result, row, column), static_cast<size_t>(PQgetlength(result, row, column))};
}

Result<Connection> Connection::Open(const std::string& conninfo, std::string_view what) {
  Connection connection(PQconnectdb(conninfo.c_str()));
  if (!connection.conn_) return Fail(ErrorCode::kResourceExhausted, "PQconnectdb: out of memory");
  if (connection.broken()) {
    return Fail(ErrorCode::kUnavailable,
                "cannot connect to PostgreSQL (" + std::string(what) +
                    "): " + OneLine(PQerrorMessage(connection.conn_.get())));
  }
  return connection;
}

Result<PgResult> Connection::Check(PGresult* raw, std::string_view what) {
  PgResult result(raw);
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  auto error = StatementError(what, conn_.get(), result.get());
  if (error.error().message.starts_with("PostgreSQL server is read-only")) read_only_server_ = true;
  return error;
}

Result<PgResult> Connection::Exec(const std::string& sql, std::string_view what) {
  return Check(PQexec(conn_.get(), sql.c_str()), what);
}

Result<PgResult> Connection::Run(Stmt stmt, std::initializer_list<std::string_view> params,
                                 Format format) {
  const StatementText& text = kStatements[static_cast<size_t>(stmt)];
  if (!prepared_.test(static_cast<size_t>(stmt))) {
    CA_TRY(Check(PQprepare(conn_.get(), text.name, text.sql, 0, nullptr), text.name));
    prepared_.set(static_cast<size_t>(stmt));
  }
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  std::vector<std::string> text_params;  // text format needs NUL-terminated strings
  text_params.reserve(params.size());
  for (std::string_view param : params) {
    if (format == Format::kText) {
      values.push_back(text_params.emplace_back(param).c_str());
    } else {
      // A zero-length binary value still needs a non-null pointer (null means SQL NULL).
      values.push_back(param.data() ? param.data() : "");
    }
    lengths.push_back(static_cast<int>(param.size()));
    formats.push_back(static_cast<int>(format));
  }
  return Check(
      PQexecPrepared(conn_.get(), text.name, static_cast<int>(values.size()), values.data(),
                     lengths.data(), formats.data(), static_cast<int>(format)),
      text.name);
}

}  // namespace ca::kv::postgres
