// What the reporter (ca-report) has already done, in a small store (kv/kv.h) in its state
// directory: the expiry notices per (certificate, threshold) and the last report period per
// account. It is what makes "never twice" hold across runs, crashes included: a notice is marked
// pending before the mail is handed to the relay and sent after; a pending mark found later means
// the outcome is unknown (the relay may have the mail), and the notice is not sent again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "kv/kv.h"
#include "reports/schedule.h"

namespace ca::reports {

struct NoticeKey {
  std::string environment;  // "production" / "staging": serials are unique per issuing CA
  std::string serial_hex;
  int days = 0;              // the threshold
  std::string Text() const;  // "production/0a1b.../21"
};

enum class NoticeMark {
  kNone,
  kPending,  // handed to the relay, outcome not recorded
  kSent,
  kFiled,    // no address or no relay: written to the report directory only
  kUnknown,  // found pending by a later run (outcome unknown), logged once, never resent
};

class ReporterState {
 public:
  // Creates the store under `dir` when missing.
  static Result<ReporterState> Open(const std::string& dir);

  Result<NoticeMark> Notice(const NoticeKey& key) const;
  // Sets the mark of every key in one transaction; kNone removes it.
  Status MarkNotices(const std::vector<NoticeKey>& keys, NoticeMark mark, int64_t now);
  // The keys marked pending (a previous run stopped between handing a mail over and recording it).
  Result<std::vector<std::string>> PendingNotices() const;

  // The `until` of the last period reported for `kid`, if any.
  Result<std::optional<int64_t>> LastReportUntil(std::string_view kid) const;
  // Records that `period` of `kid` was reported ("sent" or "filed").
  Status SetLastReport(std::string_view kid, const Period& period, std::string_view delivery,
                       int64_t now);

 private:
  ReporterState(kv::Env env, kv::Table notices, kv::Table reports)
      : env_(std::move(env)), notices_(notices), reports_(reports) {}
  kv::Env env_;
  kv::Table notices_;
  kv::Table reports_;
};

}  // namespace ca::reports
