// The location of a PostgreSQL store: "pg:<service>/<namespace>" (internal to kv/postgres/).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace ca::kv::postgres {

struct PgLocation {
  std::string service;  // a libpq connection service (pg_service.conf)
  std::string ns;       // the store's namespace in that database
};

// kInvalidArgument, one line, unless service is [A-Za-z0-9_.-]{1,63} and ns [a-z0-9_-]{1,48}.
Result<PgLocation> ParseLocation(std::string_view location);

// The libpq connection string: the service, and application_name "<program>:<namespace>"
// (what pg_stat_activity shows). Everything else (hosts, target_session_attrs, timeouts,
// keepalives, passfile) comes from the service file.
std::string Conninfo(const PgLocation& location, std::string_view program);

}  // namespace ca::kv::postgres
