// Expiry notices: an e-mail to an external account's contacts N days (default 21 and 7) before a
// certificate expires, when no renewal for the same names was issued since (IsRenewed) and the
// certificate is not revoked; never twice for the same certificate and threshold (the
// ReporterState marks). One mail per account and run lists every certificate due.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "reports/account_report.h"
#include "reports/ledger.h"
#include "reports/mail/message.h"
#include "reports/reporter_state.h"

namespace ca::reports {

inline const std::vector<int> kDefaultExpiryNoticeDays = {21, 7};

struct ExpiryDue {
  CertificateEntry certificate;
  int threshold_days = 0;  // the smallest threshold reached at `now`
  NoticeKey Key() const;
};

// The certificates of `history` that have reached a threshold at `now`: valid at now, not
// renewed, not_after - now <= threshold days. One entry per certificate, with the smallest
// threshold reached (a notice missed at 21 days is not sent late once 7 is reached).
std::vector<ExpiryDue> DueExpiryNotices(const AccountHistory& history,
                                        const std::vector<int>& thresholds, int64_t now);

// The notice mail (subject, HTML body) for `due` of one account, addressed to `to`.
mail::Message BuildExpiryNotice(const AccountSummary& account, const std::vector<ExpiryDue>& due,
                                std::vector<std::string> to, int64_t now);

enum class NoticeResult {
  kNothingDue,
  kSent,
  kFailed,  // the pending marks were removed: the next run retries
  kFiled,   // no address among the contacts, or no relay configured
};

struct NoticeOutcome {
  NoticeResult result = NoticeResult::kNothingDue;
  std::vector<ExpiryDue> notified;   // what the mail (or file) listed
  std::vector<std::string> unknown;  // pending since an earlier run: marked unknown, not resent
  std::vector<std::string> recipients;
  std::string html;   // the body, for the operator's copy
  std::string error;  // kFailed: the relay's answer
};

// Hands one message to the relay; absent when no relay is configured.
using SendMail = std::function<Status(const mail::Message&)>;

// The expiry notices of one account at `now`: filters what is due by the state marks, marks the
// rest pending, sends one mail, then marks them sent (or removes the marks when the send failed).
// With no address among the contacts or no `send`, the notice is only recorded as filed.
Result<NoticeOutcome> RunExpiryNotices(ReporterState& state, const AccountSummary& account,
                                       const AccountHistory& history,
                                       const std::vector<int>& thresholds, const SendMail& send,
                                       int64_t now);

}  // namespace ca::reports
