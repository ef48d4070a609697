#include "reports/render.h"

#include <map>

#include "pki/time.h"

namespace ca::reports {

namespace {

std::string Time(int64_t unix_seconds) {
  return unix_seconds == 0 ? std::string() : pki::FormatRfc3339(unix_seconds);
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? std::string(sep) : "") + items[i];
  return out;
}

std::string CertStatus(const CertificateEntry& c, int64_t at) {
  if (c.revoked && c.revoked_at <= at) return "revoked";
  if (at > c.not_after) return "expired";
  return c.ValidAt(at) ? "valid" : "not yet valid";
}

// --- HTML -------------------------------------------------------------------------------------

constexpr std::string_view kStyle =
    "body{font-family:Helvetica,Arial,sans-serif;color:#222;max-width:60em;margin:1em auto}"
    "h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;width:100%;font-size:.9em}"
    "th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}"
    "th{background:#f2f2f2}.num{text-align:right}.muted{color:#777}"
    ".counts td{font-size:1.1em}code{font-size:.95em}";

class Html {
 public:
  void Raw(std::string_view s) { out_ += s; }
  void Text(std::string_view s) { out_ += HtmlEscape(s); }
  void Tag(std::string_view tag, std::string_view text) {
    out_ += "<" + std::string(tag) + ">" + HtmlEscape(text) + "</" + std::string(tag) + ">";
  }
  void Row(const std::vector<std::string>& cells, std::string_view cell = "td") {
    out_ += "<tr>";
    for (const auto& c : cells) Tag(cell, c);
    out_ += "</tr>\n";
  }
  // A table with a header row, or a line saying there is nothing.
  void Table(const std::vector<std::string>& header,
             const std::vector<std::vector<std::string>>& rows, std::string_view none) {
    if (rows.empty()) {
      out_ += "<p class=\"muted\">" + HtmlEscape(none) + "</p>\n";
      return;
    }
    out_ += "<table>\n";
    Row(header, "th");
    for (const auto& r : rows) Row(r);
    out_ += "</table>\n";
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::vector<std::string> CertCells(const CertificateEntry& c, std::string extra) {
  return {Join(c.names, ", "), c.profile, c.serial_hex, Time(c.issued_at), Time(c.not_after),
          std::move(extra)};
}

std::string ByKey(const std::map<std::string, size_t>& counts) {
  std::string out;
  for (const auto& [key, n] : counts)
    out += (out.empty() ? "" : ", ") + (key.empty() ? "(none)" : key) + ": " + std::to_string(n);
  return out.empty() ? "-" : out;
}

std::string ChangeText(const nlohmann::json& j) {
  return j.is_null() ? "(none)" : j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string RenderHtml(const AccountReport& r) {
  Html h;
  const std::string title = "Certificate report: " + r.account.organization + " (" + r.account.kid + ")";
  h.Raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
  h.Text(title);
  h.Raw("</title><style>");
  h.Raw(kStyle);
  h.Raw("</style></head><body>\n");
  h.Tag("h1", title);
  h.Raw("<p>");
  h.Text("Period " + Time(r.since) + " to " + Time(r.until) + " (inclusive), generated " +
         Time(r.generated_at) + ".");
  h.Raw("<br>");
  h.Text("Account status: " + r.account.status + ". Contacts: " + Join(r.account.contacts, "; ") + ".");
  h.Raw("</p>\n");

  h.Tag("h2", "Summary");
  h.Raw("<table class=\"counts\">\n");
  h.Row({"Certificates issued", std::to_string(r.issued) + " (" + ByKey(r.issued_by_profile) + ")"});
  h.Row({"Certificates revoked", std::to_string(r.revoked) + " (" + ByKey(r.revoked_by_reason) + ")"});
  h.Row({"Valid at the end of the period", std::to_string(r.valid_now)});
  h.Row({"Expiring within 30 days, not renewed", std::to_string(r.expiring_soon.size())});
  h.Row({"Validation failures", std::to_string(r.validation_failures)});
  h.Row({"Rate-limit refusals", std::to_string(r.rate_limit_refusals)});
  h.Row({"Other refusals", std::to_string(r.other_refusals)});
  h.Row({"Changes to the account", std::to_string(r.changes.size())});
  h.Raw("</table>\n");
  h.Raw("<p class=\"muted\">");
  h.Text(
      "Production certificates only: the staging service's test certificates are counted below.");
  h.Raw("</p>\n");

  const std::vector<std::string> cert_header = {"Names", "Profile", "Serial", "Issued", "Expires", ""};
  auto cert_rows = [&](const std::vector<CertificateEntry>& certs, auto extra) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : certs) rows.push_back(CertCells(c, extra(c)));
    return rows;
  };
  auto header = [&](std::string last) {
    auto out = cert_header;
    out.back() = std::move(last);
    return out;
  };
  h.Tag("h2", "Expiring soon and not renewed");
  h.Table(header("Status"), cert_rows(r.expiring_soon, [&](const auto& c) { return CertStatus(c, r.until); }),
          "No certificate expires within 30 days without a renewal.");
  h.Tag("h2", "Issued in the period");
  h.Table(header("Status at the end"), cert_rows(r.issued_in_period, [&](const auto& c) { return CertStatus(c, r.until); }),
          "No certificate was issued.");
  h.Tag("h2", "Revoked in the period");
  h.Table(header("Revoked (reason)"),
          cert_rows(r.revoked_in_period,
                    [](const auto& c) { return Time(c.revoked_at) + " (" + c.reason_name + ")"; }),
          "No certificate was revoked.");

  h.Tag("h2", "Validation failures and refusals");
  std::vector<std::vector<std::string>> failures;
  for (const auto& f : r.failures) {
    failures.push_back({Time(f.at), f.environment, std::string(FailureKindName(f.kind)), f.name,
                        f.challenge, f.result_code, f.detail});
  }
  h.Table({"Time", "Environment", "Kind", "Identifier", "Challenge", "Result code", "Detail"},
          failures, "No validation failure and no refusal.");

  // The staging service (CA-8): apart, so that a test certificate is never read as production's.
  h.Tag("h2", "Staging (test certificates, TEST hierarchy, not trusted)");
  if (!r.staging.Any()) {
    h.Raw("<p class=\"muted\">");
    h.Text("No staging activity.");
    h.Raw("</p>\n");
  } else {
    h.Raw("<table class=\"counts\">\n");
    h.Row({"Staging certificates issued", std::to_string(r.staging.issued)});
    h.Row({"Staging certificates revoked", std::to_string(r.staging.revoked)});
    h.Row({"Staging certificates valid at the end of the period",
           std::to_string(r.staging.valid_now)});
    h.Row({"Staging validation failures and refusals", std::to_string(r.staging.failures)});
    h.Raw("</table>\n");
    h.Table(header("Status at the end"),
            cert_rows(r.staging.issued_in_period,
                      [&](const auto& c) { return CertStatus(c, r.until); }),
            "No staging certificate was issued.");
    h.Table(
        header("Revoked (reason)"),
        cert_rows(r.staging.revoked_in_period,
                  [](const auto& c) { return Time(c.revoked_at) + " (" + c.reason_name + ")"; }),
        "No staging certificate was revoked.");
  }

  h.Tag("h2", "Changes to the account");
  std::vector<std::vector<std::string>> changes;
  for (const auto& c : r.changes)
    changes.push_back({Time(c.at), c.action, c.object_type + " " + c.object_id, c.actor});
  h.Table({"Time", "Change", "Object", "By"}, changes, "No change.");

  h.Tag("h2", "Domains");
  std::vector<std::vector<std::string>> domains;
  for (const auto& d : r.account.domains) domains.push_back({d});
  h.Table({"Domain (status)"}, domains, "No domain is listed.");
  h.Raw("<p class=\"muted\">");
  h.Text("Taken from the CA's hash-chained audit trail. The CSV attachment lists every row.");
  h.Raw("</p>\n</body></html>\n");
  return h.Take();
}

// --- CSV --------------------------------------------------------------------------------------

const std::vector<std::string>& CsvColumns() {
  static const std::vector<std::string> columns = {
      "section",   "time",     "serial",      "environment", "profile", "names",
      "not_after", "status",   "reason",      "kind",        "identifier", "challenge",
      "result_code", "problem", "detail",     "actor",       "action",  "object"};
  return columns;
}

std::string CsvField(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string RenderCsv(const AccountReport& r) {
  std::string out;
  auto row = [&](std::map<std::string, std::string> cells) {
    const auto& columns = CsvColumns();
    for (size_t i = 0; i < columns.size(); ++i) out += (i ? "," : "") + CsvField(cells[columns[i]]);
    out += "\r\n";
  };
  std::map<std::string, std::string> header;
  for (const auto& c : CsvColumns()) header[c] = c;
  row(header);
  auto cert = [&](std::string section, int64_t at, const CertificateEntry& c) {
    row({{"section", std::move(section)}, {"time", Time(at)}, {"serial", c.serial_hex},
         {"environment", c.environment}, {"profile", c.profile}, {"names", Join(c.names, " ")},
         {"not_after", Time(c.not_after)}, {"status", CertStatus(c, r.until)},
         {"reason", c.revoked ? c.reason_name : ""}});
  };
  for (const auto& c : r.issued_in_period) cert("issued", c.issued_at, c);
  for (const auto& c : r.revoked_in_period) cert("revoked", c.revoked_at, c);
  for (const auto& c : r.expiring_soon) cert("expiring", c.not_after, c);
  for (const auto& c : r.staging.issued_in_period) cert("issued", c.issued_at, c);
  for (const auto& c : r.staging.revoked_in_period) cert("revoked", c.revoked_at, c);
  for (const auto& f : r.failures) {
    row({{"section", "failure"},
         {"time", Time(f.at)},
         {"environment", f.environment},
         {"kind", std::string(FailureKindName(f.kind))},
         {"identifier", f.name},
         {"challenge", f.challenge},
         {"result_code", f.result_code},
         {"problem", f.problem},
         {"detail", f.detail}});
  }
  for (const auto& c : r.changes) {
    row({{"section", "change"}, {"time", Time(c.at)}, {"actor", c.actor}, {"action", c.action},
         {"object", c.object_type + " " + c.object_id},
         {"detail", "before: " + ChangeText(c.before) + "; after: " + ChangeText(c.after)}});
  }
  return out;
}

}  // namespace ca::reports
