#include "pki/time.h"

#include <ctime>

namespace ca::pki {

namespace {
bool Digits(std::string_view text, size_t pos, size_t n, int& out) {
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}
}  // namespace

Time Now() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

std::string FormatRfc3339(Time t) {
  std::time_t secs = static_cast<std::time_t>(ToUnix(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<Time> ParseRfc3339(std::string_view text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (text.size() != 20 || !Digits(text, 0, 4, y) || text[4] != '-' || !Digits(text, 5, 2, mo) ||
      text[7] != '-' || !Digits(text, 8, 2, d) || text[10] != 'T' || !Digits(text, 11, 2, h) ||
      text[13] != ':' || !Digits(text, 14, 2, mi) || text[16] != ':' || !Digits(text, 17, 2, s) ||
      text[19] != 'Z') {
    return Fail(ErrorCode::kInvalidArgument,
                "'" + std::string(text) + "' is not a UTC time like 2026-01-31T12:00:00Z");
  }
  auto invalid = [&] {
    return Fail(ErrorCode::kInvalidArgument,
                "'" + std::string(text) + "' is not a valid date and time");
  };
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return invalid();
  // std::chrono refuses days that do not exist in the month (2026-02-30), unlike timegm.
  std::chrono::year_month_day ymd{std::chrono::year(y),
                                  std::chrono::month(static_cast<unsigned>(mo)),
                                  std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return invalid();
  return Time(std::chrono::sys_days(ymd)) + std::chrono::hours(h) + std::chrono::minutes(mi) +
         std::chrono::seconds(s);
}

Result<ossl::Asn1Time> ToAsn1Time(Time t) {
  ossl::Asn1Time out(ASN1_TIME_set(nullptr, static_cast<time_t>(ToUnix(t))));
  if (!out) return ossl::CryptoFail("encode time");
  return out;
}

Result<Time> FromAsn1Time(const ASN1_TIME* t) {
  if (t == nullptr) return Fail(ErrorCode::kInvalidArgument, "missing time");
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return ossl::CryptoFail("decode time");
  return Time(std::chrono::seconds(timegm(&tm)));
}

}  // namespace ca::pki
