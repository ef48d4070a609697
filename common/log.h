// Structured logs: one JSON object per line on stderr (journald picks it up under systemd).
// Never pass secrets: there is no field type for them on purpose.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace ca::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// Sets the "service" field of every line and the minimum level (default info).
void Init(std::string_view service, Level min_level = Level::kInfo);

// Writes {"ts":..., "level":..., "service":..., "event": event, ...fields} as one line.
void Emit(Level level, std::string_view event, const nlohmann::json& fields = nlohmann::json::object());

inline void Info(std::string_view event, const nlohmann::json& f = nlohmann::json::object()) {
  Emit(Level::kInfo, event, f);
}
inline void Warn(std::string_view event, const nlohmann::json& f = nlohmann::json::object()) {
  Emit(Level::kWarn, event, f);
}
inline void Error(std::string_view event, const nlohmann::json& f = nlohmann::json::object()) {
  Emit(Level::kError, event, f);
}

// RFC 3339 UTC with milliseconds, e.g. 2026-11-23T02:33:34.123Z.
std::string NowRfc3339();

}  // namespace ca::log
