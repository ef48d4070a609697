#include "gateway/pki_helpers.h"

#include <ctime>

#include "common/encoding.h"

namespace ca::gateway {

std::string NormalizeSerial(std::string hex) {
  hex = AsciiLower(hex);
  size_t nz = hex.find_first_not_of('0');
  return nz == std::string::npos ? "0" : hex.substr(nz);
}

std::string Rfc3339(int64_t unix_seconds) {
  std::time_t tt = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace ca::gateway
