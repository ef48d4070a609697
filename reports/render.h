// The report as people read it: an HTML mail body (self-contained: inline CSS, no external
// resource, every text escaped) and a CSV file (RFC 4180: CRLF, quoted when needed), one row per
// certificate issued, revoked or expiring, per failure and per change, with a `section` column.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reports/account_report.h"

namespace ca::reports {

std::string RenderHtml(const AccountReport& report);
std::string RenderCsv(const AccountReport& report);

// The CSV header (the column names, in order); each row has exactly these fields.
const std::vector<std::string>& CsvColumns();

// &, <, >, " and ' as entities.
std::string HtmlEscape(std::string_view text);
// One RFC 4180 field: quoted (inner quotes doubled) when it holds a comma, a quote, CR or LF.
std::string CsvField(std::string_view text);

}  // namespace ca::reports
