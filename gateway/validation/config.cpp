#include "gateway/validation/config.h"

#include <arpa/inet.h>

#include <charconv>
#include <set>

#include "pki/json_fields.h"

namespace ca::gateway::validation {

std::vector<VantagePoint> ValidatorConfig::EffectiveVantagePoints() const {
  if (!vantage_points.empty() || !remote_agents.empty()) return vantage_points;
  return {VantagePoint{"default", resolver, ""}};
}

size_t ValidatorConfig::RequiredSuccesses() const {
  const size_t n = EffectiveVantagePoints().size() + remote_agents.size();
  switch (quorum_rule) {
    case QuorumRule::kAll:
      return n;
    case QuorumRule::kAllButOne:
      return n > 1 ? n - 1 : n;
    case QuorumRule::kCount:
      break;
  }
  return quorum;
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
  for (const auto& agent : remote_agents) {
    if (!agent.url.starts_with("https://")) {
      return Fail(ErrorCode::kInvalidArgument,
                  "remote agent '" + agent.name + "': url must start with https://");
    }
    if (agent.client_cert_file.empty() || agent.client_key_file.empty() || agent.ca_file.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "remote agent '" + agent.name +
                      "': client_cert_file, client_key_file and ca_file are required");
    }
    if (!names.insert(agent.name).second) {
      return Fail(ErrorCode::kInvalidArgument,
                  "vantage point name '" + agent.name + "' is not unique");
    }
  }
  const size_t perspectives = points.size() + remote_agents.size();
  if (RequiredSuccesses() < 1 || RequiredSuccesses() > perspectives) {
    return Fail(ErrorCode::kInvalidArgument,
                "quorum must be between 1 and the number of vantage points (" +
                    std::to_string(perspectives) + ")");
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

using pki::JsonFields;

Result<VantagePoint> ParseVantagePoint(const nlohmann::json& item, std::string path, size_t index) {
  auto f = CA_TRY(JsonFields::Of(item, std::move(path)));
  VantagePoint vp;
  vp.resolver = CA_TRY(f.String("resolver"));
  vp.name = CA_TRY(f.OptionalString("name")).value_or("vp" + std::to_string(index + 1));
  vp.source_address = CA_TRY(f.OptionalString("source_address")).value_or("");
  CA_TRY_STATUS(f.RefuseUnknown());
  return vp;
}

Result<RemoteAgent> ParseRemoteAgent(const nlohmann::json& item, std::string path, size_t index) {
  auto f = CA_TRY(JsonFields::Of(item, std::move(path)));
  RemoteAgent agent;
  agent.name = CA_TRY(f.OptionalString("name")).value_or("agent" + std::to_string(index + 1));
  agent.url = CA_TRY(f.NonEmptyString("url"));
  agent.client_cert_file = CA_TRY(f.NonEmptyString("client_cert_file"));
  agent.client_key_file = CA_TRY(f.NonEmptyString("client_key_file"));
  agent.ca_file = CA_TRY(f.NonEmptyString("ca_file"));
  CA_TRY_STATUS(f.RefuseUnknown());
  return agent;
}

// "quorum": a number of perspectives, "all" or "all_but_one".
Status ReadQuorum(JsonFields& f, const nlohmann::json& object, ValidatorConfig& c) {
  auto it = object.find("quorum");
  if (it == object.end() || !it->is_string()) {
    if (auto v = CA_TRY(f.OptionalIntIn("quorum", 1, 64))) c.quorum = static_cast<size_t>(*v);
    return Ok();
  }
  f.MarkRead("quorum");
  if (*it == "all") {
    c.quorum_rule = QuorumRule::kAll;
  } else if (*it == "all_but_one") {
    c.quorum_rule = QuorumRule::kAllButOne;
  } else {
    return f.Bad("quorum", "expected a number, \"all\" or \"all_but_one\"");
  }
  return Ok();
}

// Reads an optional bounded integer into `out` (left unchanged when absent).
template <class T>
Status ReadBounded(JsonFields& f, std::string_view field, T& out, int64_t min, int64_t max) {
  if (auto v = CA_TRY(f.OptionalIntIn(field, min, max))) out = static_cast<T>(*v);
  return Ok();
}

}  // namespace

Result<ValidatorConfig> ValidatorConfig::FromJson(const nlohmann::json& object) {
  auto f = CA_TRY(JsonFields::Of(object, "validation"));
  ValidatorConfig c;
  c.resolver = CA_TRY(f.OptionalString("resolver")).value_or(c.resolver);
  f.MarkRead("vantage_points");
  if (auto it = object.find("vantage_points"); it != object.end()) {
    if (!it->is_array()) return f.Bad("vantage_points", "expected an array of objects");
    for (const auto& item : *it) {
      std::string path =
          f.PathOf("vantage_points") + "[" + std::to_string(c.vantage_points.size()) + "]";
      c.vantage_points.push_back(CA_TRY(ParseVantagePoint(item, path, c.vantage_points.size())));
    }
  }
  f.MarkRead("remote_agents");
  if (auto it = object.find("remote_agents"); it != object.end()) {
    if (!it->is_array()) return f.Bad("remote_agents", "expected an array of objects");
    for (const auto& item : *it) {
      std::string path =
          f.PathOf("remote_agents") + "[" + std::to_string(c.remote_agents.size()) + "]";
      c.remote_agents.push_back(CA_TRY(ParseRemoteAgent(item, path, c.remote_agents.size())));
    }
  }
  CA_TRY_STATUS(ReadQuorum(f, object, c));
  CA_TRY_STATUS(ReadBounded(f, "http01_port", c.http01_port, 1, 65535));
  CA_TRY_STATUS(ReadBounded(f, "https_port", c.https_port, 1, 65535));
  CA_TRY_STATUS(ReadBounded(f, "tlsalpn01_port", c.tlsalpn01_port, 1, 65535));
  int64_t dns_timeout = c.dns_timeout.count(), connect_ms = c.connect_timeout.count(),
          io_ms = c.io_timeout.count();
  CA_TRY_STATUS(ReadBounded(f, "dns_timeout_seconds", dns_timeout, 1, 60));
  CA_TRY_STATUS(ReadBounded(f, "dns_attempts", c.dns_attempts, 1, 5));
  CA_TRY_STATUS(ReadBounded(f, "connect_timeout_ms", connect_ms, 1, 120000));
  CA_TRY_STATUS(ReadBounded(f, "io_timeout_ms", io_ms, 1, 300000));
  c.dns_timeout = std::chrono::seconds(dns_timeout);
  c.connect_timeout = std::chrono::milliseconds(connect_ms);
  c.io_timeout = std::chrono::milliseconds(io_ms);
  CA_TRY_STATUS(ReadBounded(f, "max_redirects", c.max_redirects, 0, 20));
  CA_TRY_STATUS(ReadBounded(f, "max_body_bytes", c.max_body_bytes, 256, 1 << 20));
  CA_TRY_STATUS(ReadBounded(f, "max_cname_depth", c.max_cname_depth, 1, 16));
  c.caa_identities = CA_TRY(f.OptionalStringList("caa_identities")).value_or(c.caa_identities);
  for (const auto& text :
       CA_TRY(f.OptionalStringList("allowed_networks")).value_or(std::vector<std::string>{})) {
    auto network = IpNetwork::Parse(text);
    if (!network) return f.Bad("allowed_networks", network.error().message);
    c.allowed_networks.push_back(*network);
  }
  CA_TRY_STATUS(f.RefuseUnknown());
  CA_TRY_STATUS(c.Check());
  return c;
}

}  // namespace ca::gateway::validation
