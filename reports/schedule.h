// When an external account's periodic report is due (ANSSI R49): whole UTC weeks starting Monday
// 00:00, or calendar months, per the account's ReportPeriod. A run sends the latest complete
// period not yet sent (never a backlog of older ones); an account created during a period gets
// its first report when that period ends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "profiles/policy/model.h"

namespace ca::reports {

struct Period {
  int64_t since = 0;  // first second, inclusive
  int64_t until = 0;  // last second, inclusive (the next period's start - 1)
  bool operator==(const Period&) const = default;
};

// The weekly or monthly period that contains `t` (kOff is treated as weekly).
Period PeriodContaining(profiles::policy::ReportPeriod kind, int64_t t);
// The latest period that has ended at `now` (its until < now).
Period LatestCompletePeriod(profiles::policy::ReportPeriod kind, int64_t now);

// The period to report at `now`, or nullopt: reports off, the latest complete period already
// sent (last_sent_until >= its until), or the account created after it ended.
std::optional<Period> DuePeriod(profiles::policy::ReportPeriod kind, int64_t created_at,
                                std::optional<int64_t> last_sent_until, int64_t now);

// "2026-11-30" (the UTC date of t), for file names and subjects.
std::string UtcDate(int64_t t);

}  // namespace ca::reports
