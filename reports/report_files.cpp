#include "reports/report_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "pki/time.h"
#include "reports/ledger_json.h"
#include "reports/render.h"

namespace ca::reports {

using nlohmann::json;

namespace {

std::string Stamp(int64_t t, std::string_view whole_day_time) {
  std::string text = pki::FormatRfc3339(t);  // 2026-11-30T23:59:59Z
  if (text.substr(11, 8) == whole_day_time) return text.substr(0, 10);
  std::string compact;
  for (char c : text)
    if (c != '-' && c != ':') compact += c;
  return compact;
}

// Writes `content` to `path`.tmp (0640), fsyncs it; the caller renames.
Status WriteTemp(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Fail(ErrorCode::kIo, "cannot write " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return Fail(ErrorCode::kIo, "cannot write " + tmp + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  bool synced = ::fsync(fd) == 0;
  std::string why = synced ? "" : std::strerror(errno);
  ::close(fd);
  if (!synced) {
    ::unlink(tmp.c_str());
    return Fail(ErrorCode::kIo, "cannot sync " + tmp + ": " + why);
  }
  return Ok();
}

}  // namespace

std::string ReportFileStem(const AccountReport& r) {
  return "report-" + r.account.kid + "-" + Stamp(r.since, "00:00:00") + "-" +
         Stamp(r.until, "23:59:59");
}

Result<ReportFiles> WriteReportFiles(const AccountReport& report, const std::string& dir) {
  const std::string stem = (dir.empty() ? std::string(".") : dir) + "/" + ReportFileStem(report);
  ReportFiles files{stem + ".html", stem + ".csv"};
  CA_TRY_STATUS(WriteTemp(files.html, RenderHtml(report)));
  if (auto s = WriteTemp(files.csv, RenderCsv(report)); !s) {
    ::unlink((files.html + ".tmp").c_str());
    return std::unexpected(s.error());
  }
  for (const std::string* path : {&files.html, &files.csv}) {
    if (std::rename((*path + ".tmp").c_str(), path->c_str()) != 0) {
      std::string why = std::strerror(errno);
      ::unlink((files.html + ".tmp").c_str());
      ::unlink((files.csv + ".tmp").c_str());
      if (path == &files.csv) ::unlink(files.html.c_str());
      return Fail(ErrorCode::kIo, "cannot write " + *path + ": " + why);
    }
  }
  return files;
}

json ReportToJson(const AccountReport& r) {
  json issued = json::array(), revoked = json::array(), expiring = json::array();
  for (const auto& c : r.issued_in_period) issued.push_back(ToJson(c));
  for (const auto& c : r.revoked_in_period) revoked.push_back(ToJson(c));
  for (const auto& c : r.expiring_soon) expiring.push_back(ToJson(c));
  json failures = json::array(), changes = json::array();
  for (const auto& f : r.failures) failures.push_back(ToJson(f));
  json staging_issued = json::array(), staging_revoked = json::array();
  for (const auto& c : r.staging.issued_in_period) staging_issued.push_back(ToJson(c));
  for (const auto& c : r.staging.revoked_in_period) staging_revoked.push_back(ToJson(c));
  for (const auto& c : r.changes) changes.push_back(ToJson(c));
  return {{"kid", r.account.kid},
          {"organization", r.account.organization},
          {"status", r.account.status},
          {"contacts", r.account.contacts},
          {"domains", r.account.domains},
          {"since", pki::FormatRfc3339(r.since)},
          {"until", pki::FormatRfc3339(r.until)},
          {"generated_at", pki::FormatRfc3339(r.generated_at)},
          {"issued", r.issued},
          {"issued_by_profile", r.issued_by_profile},
          {"revoked", r.revoked},
          {"revoked_by_reason", r.revoked_by_reason},
          {"valid_now", r.valid_now},
          {"expiring_soon", r.expiring_soon.size()},
          {"validation_failures", r.validation_failures},
          {"rate_limit_refusals", r.rate_limit_refusals},
          {"other_refusals", r.other_refusals},
          {"certificates_issued", issued},
          {"certificates_revoked", revoked},
          {"certificates_expiring", expiring},
          {"failures", failures},
          {"changes", changes},
          {"staging",
           {{"issued", r.staging.issued},
            {"revoked", r.staging.revoked},
            {"valid_now", r.staging.valid_now},
            {"failures", r.staging.failures},
            {"certificates_issued", staging_issued},
            {"certificates_revoked", staging_revoked}}}};
}

}  // namespace ca::reports
