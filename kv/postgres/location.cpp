#include "kv/postgres/location.h"

#include <algorithm>

namespace ca::kv::postgres {
namespace {

bool AllOf(std::string_view text, size_t max, std::string_view extra, bool upper) {
  if (text.empty() || text.size() > max) return false;
  return std::ranges::all_of(text, [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (upper && c >= 'A' && c <= 'Z') ||
           extra.find(c) != std::string_view::npos;
  });
}

}  // namespace

Result<PgLocation> ParseLocation(std::string_view location) {
  std::string_view rest = location;
  size_t slash = std::string_view::npos;
  if (rest.starts_with("pg:")) {
    rest.remove_prefix(3);
    slash = rest.find('/');
  }
  if (slash != std::string_view::npos) {
    std::string_view service = rest.substr(0, slash);
    std::string_view ns = rest.substr(slash + 1);
    if (AllOf(service, 63, "_.-", true) && AllOf(ns, 48, "_-", false)) {
      return PgLocation{std::string(service), std::string(ns)};
    }
  }
  return Fail(ErrorCode::kInvalidArgument,
              "bad PostgreSQL store location '" + std::string(location) +
                  "': want pg:<service>/<namespace>, service [A-Za-z0-9_.-]{1,63} (a "
                  "pg_service.conf entry), namespace [a-z0-9_-]{1,48}");
}

std::string Conninfo(const PgLocation& location, std::string_view program) {
  // Quoted conninfo values: backslash and single quote escaped.
  std::string application = std::string(program.substr(0, 30)) + ":" + location.ns;
  std::string quoted;
  for (char c : application) {
    if (c == '\\' || c == '\'') quoted.push_back('\\');
    quoted.push_back(c);
  }
  return "service=" + location.service + " application_name='" + quoted + "'";
}

}  // namespace ca::kv::postgres
