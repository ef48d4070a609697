#include "reports/reporter_state.h"

#include <nlohmann/json.hpp>

namespace ca::reports {
namespace {

constexpr std::string_view kMarkNames[] = {"none", "pending", "sent", "filed", "unknown"};

std::optional<NoticeMark> ParseMark(std::string_view s) {
  for (size_t i = 0; i < std::size(kMarkNames); ++i)
    if (kMarkNames[i] == s) return static_cast<NoticeMark>(i);
  return std::nullopt;
}

Result<nlohmann::json> ParseValue(std::string_view value, std::string_view key) {
  auto j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object())
    return Fail(ErrorCode::kCorrupt, "reporter state: bad record " + std::string(key));
  return j;
}

}  // namespace

std::string NoticeKey::Text() const {
  return environment + "/" + serial_hex + "/" + std::to_string(days);
}

Result<ReporterState> ReporterState::Open(const std::string& dir) {
  kv::EnvOptions options;
  options.location = dir;
  options.map_size = size_t{64} << 20;  // a few records per certificate and account
  options.max_tables = 4;
  options.create = true;
  auto env = CA_TRY(kv::Env::Open(options));
  kv::Table notices = CA_TRY(env.OpenTable("expiry_notices", true));
  kv::Table reports = CA_TRY(env.OpenTable("reports", true));
  return ReporterState(std::move(env), notices, reports);
}

Result<NoticeMark> ReporterState::Notice(const NoticeKey& key) const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  auto value = CA_TRY(txn.Get(notices_, key.Text()));
  if (!value) return NoticeMark::kNone;
  auto j = CA_TRY(ParseValue(*value, key.Text()));
  auto mark = ParseMark(j.value("mark", ""));
  if (!mark) return Fail(ErrorCode::kCorrupt, "reporter state: bad mark for " + key.Text());
  return *mark;
}

Status ReporterState::MarkNotices(const std::vector<NoticeKey>& keys, NoticeMark mark,
                                  int64_t now) {
  auto txn = CA_TRY(kv::Txn::BeginWrite(env_));
  for (const auto& key : keys) {
    if (mark == NoticeMark::kNone) {
      CA_TRY(txn.Delete(notices_, key.Text()));
      continue;
    }
    nlohmann::json j = {{"mark", kMarkNames[static_cast<int>(mark)]}, {"at", now}};
    CA_TRY_STATUS(txn.Put(notices_, key.Text(), j.dump()));
  }
  return txn.Commit();
}

Result<std::vector<std::string>> ReporterState::PendingNotices() const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  std::vector<std::string> out;
  CA_TRY_STATUS(txn.ForEach(notices_, "", [&](std::string_view key, std::string_view value) {
    auto j = nlohmann::json::parse(value, nullptr, false);
    if (j.is_object() && j.value("mark", "") == "pending") out.emplace_back(key);
    return true;
  }));
  return out;
}

Result<std::optional<int64_t>> ReporterState::LastReportUntil(std::string_view kid) const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  auto value = CA_TRY(txn.Get(reports_, kid));
  if (!value) return std::optional<int64_t>();
  auto j = CA_TRY(ParseValue(*value, kid));
  if (!j.contains("until") || !j["until"].is_number_integer())
    return Fail(ErrorCode::kCorrupt, "reporter state: bad report record for " + std::string(kid));
  return std::optional<int64_t>(j["until"].get<int64_t>());
}

Status ReporterState::SetLastReport(std::string_view kid, const Period& period,
                                    std::string_view delivery, int64_t now) {
  auto txn = CA_TRY(kv::Txn::BeginWrite(env_));
  nlohmann::json j = {
      {"since", period.since}, {"until", period.until}, {"delivery", delivery}, {"at", now}};
  CA_TRY_STATUS(txn.Put(reports_, kid, j.dump()));
  return txn.Commit();
}

}  // namespace ca::reports
