#include "reports/schedule.h"

#include <chrono>
#include <cstdio>

namespace ca::reports {
namespace {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::sys_seconds;

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

sys_days DayOf(int64_t t) {
  return sys_days(days(FloorDiv(t, 86400)));
}
int64_t Seconds(sys_days d) {
  return sys_seconds(d).time_since_epoch().count();
}

}  // namespace

Period PeriodContaining(profiles::policy::ReportPeriod kind, int64_t t) {
  sys_days day = DayOf(t);
  if (kind == profiles::policy::ReportPeriod::kMonthly) {
    std::chrono::year_month_day ymd(day);
    auto first = ymd.year() / ymd.month() / 1;
    auto next = first + std::chrono::months(1);
    return {Seconds(sys_days(first)), Seconds(sys_days(next)) - 1};
  }
  std::chrono::weekday wd(day);
  sys_days monday = day - (wd - std::chrono::Monday);
  return {Seconds(monday), Seconds(monday + days(7)) - 1};
}

Period LatestCompletePeriod(profiles::policy::ReportPeriod kind, int64_t now) {
  Period current = PeriodContaining(kind, now);
  return PeriodContaining(kind, current.since - 1);
}

std::optional<Period> DuePeriod(profiles::policy::ReportPeriod kind, int64_t created_at,
                                std::optional<int64_t> last_sent_until, int64_t now) {
  if (kind == profiles::policy::ReportPeriod::kOff) return std::nullopt;
  Period p = LatestCompletePeriod(kind, now);
  if (created_at > p.until) return std::nullopt;
  if (last_sent_until && *last_sent_until >= p.until) return std::nullopt;
  return p;
}

std::string UtcDate(int64_t t) {
  std::chrono::year_month_day ymd(DayOf(t));
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

}  // namespace ca::reports
