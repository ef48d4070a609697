#include "gateway/validation/config.h"

#include <arpa/inet.h>

#include <charconv>
#include <set>

namespace ca::gateway::validation {

Result<ResolverAddress> ParseResolverAddress(std::string_view text) {
  ResolverAddress out;
  std::string_view host = text;
  if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    std::string_view port = text.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return Fail(ErrorCode::kInvalidArgument, "resolver '" + std::string(text) + "': bad port");
    }
    out.port = static_cast<uint16_t>(value);
  }
  in_addr addr{};
  std::string ip(host);
  if (inet_pton(AF_INET, ip.c_str(), &addr) != 1) {
    return Fail(ErrorCode::kInvalidArgument,
                "resolver '" + std::string(text) + "': expected an IPv4 address[:port]");
  }
  out.ip = ip;
  return out;
}

std::vector<VantagePoint> ValidatorConfig::EffectiveVantagePoints() const {
  if (!vantage_points.empty()) return vantage_points;
  return {VantagePoint{"default", resolver, ""}};
}

Status ValidatorConfig::Check() const {
  auto points = EffectiveVantagePoints();
  std::set<std::string> names;
  for (const auto& vp : points) {
    if (auto r = ParseResolverAddress(vp.resolver); !r) {
      return Fail(ErrorCode::kInvalidArgument,
                  "vantage point '" + vp.name + "': " + r.error().message);
    }
    if (!vp.source_address.empty()) {
      in_addr a4{};
      in6_addr a6{};
      if (inet_pton(AF_INET, vp.source_address.c_str(), &a4) != 1 &&
          inet_pton(AF_INET6, vp.source_address.c_str(), &a6) != 1) {
        return Fail(ErrorCode::kInvalidArgument,
                    "vantage point '" + vp.name + "': source_address is not an IP address");
      }
    }
    if (!names.insert(vp.name).second) {
      return Fail(ErrorCode::kInvalidArgument,
                  "vantage point name '" + vp.name + "' is not unique");
    }
  }
  if (quorum < 1 || quorum > points.size()) {
    return Fail(ErrorCode::kInvalidArgument,
                "quorum must be between 1 and the number of vantage points (" +
                    std::to_string(points.size()) + ")");
  }
  if (http01_port == 0 || https_port == 0 || tlsalpn01_port == 0) {
    return Fail(ErrorCode::kInvalidArgument, "responder ports must be non-zero");
  }
  if (dns_timeout.count() < 1 || dns_attempts < 1 || connect_timeout.count() < 1 ||
      io_timeout.count() < 1) {
    return Fail(ErrorCode::kInvalidArgument, "timeouts and attempts must be positive");
  }
  if (max_redirects < 0 || max_cname_depth < 1 || max_body_bytes < 256) {
    return Fail(ErrorCode::kInvalidArgument,
                "max_redirects >= 0, max_cname_depth >= 1, max_body_bytes >= 256");
  }
  if (caa_identities.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "caa_identities must name at least one identity");
  }
  for (const auto& id : caa_identities) {
    if (id.empty() || id.find_first_of(" ;\t") != std::string::npos) {
      return Fail(ErrorCode::kInvalidArgument, "caa identity '" + id + "' is not a domain name");
    }
  }
  return Ok();
}

namespace {

template <class T>
Status ReadNumber(const nlohmann::json& object, const char* key, T& out, long long min,
                  long long max) {
  if (!object.contains(key)) return Ok();
  const auto& v = object.at(key);
  if (!v.is_number_integer())
    return Fail(ErrorCode::kInvalidArgument, std::string(key) + " must be an integer");
  long long n = v.get<long long>();
  if (n < min || n > max) {
    return Fail(ErrorCode::kInvalidArgument, std::string(key) + " out of range [" +
                                                 std::to_string(min) + ", " + std::to_string(max) +
                                                 "]");
  }
  out = static_cast<T>(n);
  return Ok();
}

Result<std::string> ReadString(const nlohmann::json& object, const char* key) {
  const auto& v = object.at(key);
  if (!v.is_string())
    return Fail(ErrorCode::kInvalidArgument, std::string(key) + " must be a string");
  return v.get<std::string>();
}

}  // namespace

Result<ValidatorConfig> ValidatorConfig::FromJson(const nlohmann::json& object) {
  static const std::set<std::string> kKeys = {"resolver",
                                              "vantage_points",
                                              "quorum",
                                              "http01_port",
                                              "https_port",
                                              "tlsalpn01_port",
                                              "dns_timeout_seconds",
                                              "dns_attempts",
                                              "connect_timeout_ms",
                                              "io_timeout_ms",
                                              "max_redirects",
                                              "max_body_bytes",
                                              "max_cname_depth",
                                              "caa_identities"};
  if (!object.is_object())
    return Fail(ErrorCode::kInvalidArgument, "validation config must be an object");
  for (const auto& [key, value] : object.items()) {
    if (!kKeys.contains(key))
      return Fail(ErrorCode::kInvalidArgument, "unknown validation config key '" + key + "'");
  }
  ValidatorConfig c;
  if (object.contains("resolver")) c.resolver = CA_TRY(ReadString(object, "resolver"));
  if (object.contains("vantage_points")) {
    const auto& list = object.at("vantage_points");
    if (!list.is_array())
      return Fail(ErrorCode::kInvalidArgument, "vantage_points must be an array");
    for (const auto& item : list) {
      if (!item.is_object() || !item.contains("resolver")) {
        return Fail(ErrorCode::kInvalidArgument, "each vantage point needs a resolver");
      }
      VantagePoint vp;
      for (const auto& [key, value] : item.items()) {
        if (key != "name" && key != "resolver" && key != "source_address") {
          return Fail(ErrorCode::kInvalidArgument, "unknown vantage point key '" + key + "'");
        }
      }
      vp.resolver = CA_TRY(ReadString(item, "resolver"));
      vp.name = item.contains("name") ? CA_TRY(ReadString(item, "name"))
                                      : "vp" + std::to_string(c.vantage_points.size() + 1);
      if (item.contains("source_address"))
        vp.source_address = CA_TRY(ReadString(item, "source_address"));
      c.vantage_points.push_back(std::move(vp));
    }
  }
  CA_TRY_STATUS(ReadNumber(object, "quorum", c.quorum, 1, 64));
  CA_TRY_STATUS(ReadNumber(object, "http01_port", c.http01_port, 1, 65535));
  CA_TRY_STATUS(ReadNumber(object, "https_port", c.https_port, 1, 65535));
  CA_TRY_STATUS(ReadNumber(object, "tlsalpn01_port", c.tlsalpn01_port, 1, 65535));
  long long dns_timeout = c.dns_timeout.count(), connect_ms = c.connect_timeout.count(),
            io_ms = c.io_timeout.count();
  CA_TRY_STATUS(ReadNumber(object, "dns_timeout_seconds", dns_timeout, 1, 60));
  CA_TRY_STATUS(ReadNumber(object, "dns_attempts", c.dns_attempts, 1, 5));
  CA_TRY_STATUS(ReadNumber(object, "connect_timeout_ms", connect_ms, 1, 120000));
  CA_TRY_STATUS(ReadNumber(object, "io_timeout_ms", io_ms, 1, 300000));
  c.dns_timeout = std::chrono::seconds(dns_timeout);
  c.connect_timeout = std::chrono::milliseconds(connect_ms);
  c.io_timeout = std::chrono::milliseconds(io_ms);
  CA_TRY_STATUS(ReadNumber(object, "max_redirects", c.max_redirects, 0, 20));
  CA_TRY_STATUS(ReadNumber(object, "max_body_bytes", c.max_body_bytes, 256, 1 << 20));
  CA_TRY_STATUS(ReadNumber(object, "max_cname_depth", c.max_cname_depth, 1, 16));
  if (object.contains("caa_identities")) {
    const auto& ids = object.at("caa_identities");
    if (!ids.is_array())
      return Fail(ErrorCode::kInvalidArgument, "caa_identities must be an array of strings");
    for (const auto& id : ids) {
      if (!id.is_string())
        return Fail(ErrorCode::kInvalidArgument, "caa_identities must be an array of strings");
      c.caa_identities.push_back(id.get<std::string>());
    }
  }
  CA_TRY_STATUS(c.Check());
  return c;
}

}  // namespace ca::gateway::validation
