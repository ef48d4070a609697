// The report as operators keep it: report-<kid>-<since>-<until>.html and .csv in a directory,
// written whole or not at all (temporary files renamed into place), and its JSON summary.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "reports/account_report.h"

namespace ca::reports {

struct ReportFiles {
  std::string html;  // paths written
  std::string csv;
};

// "report-<kid>-<since>-<until>": each bound as YYYY-MM-DD when it is a day's first (since) or last
// (until) second, else as YYYYMMDDTHHMMSSZ.
std::string ReportFileStem(const AccountReport& report);

// Writes both files into `dir` (which must exist), mode 0640; kIo with nothing left behind when
// either cannot be written.
Result<ReportFiles> WriteReportFiles(const AccountReport& report, const std::string& dir);

// The counts and the rows as JSON (ca-ra report --json, the timer's log): times as RFC 3339.
nlohmann::json ReportToJson(const AccountReport& report);

}  // namespace ca::reports
