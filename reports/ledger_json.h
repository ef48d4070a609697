// The JSON form of ledger entries (reports/ledger.h), one for every reader: `ca-ra report --json`
// (reports/report_files.cpp) and the dashboard's API (dashboard/views.cpp). Times are RFC 3339.
#pragma once

#include <nlohmann/json.hpp>

#include "reports/ledger.h"

namespace ca::reports {

// serial, environment, profile, names, acme_account, order, issued_at, not_before, not_after,
// revoked; when revoked also revoked_at, reason (RFC 5280 code) and reason_name.
nlohmann::json ToJson(const CertificateEntry& c);
// at, kind, name, challenge, result_code, problem, detail, acme_account.
nlohmann::json ToJson(const FailureEntry& f);
// at, actor, action, object_type, object_id, domain, before, after.
nlohmann::json ToJson(const ChangeEntry& c);

}  // namespace ca::reports
