#include "engine/config.h"

#include <grp.h>

#include <nlohmann/json.hpp>

#include "common/openssl.h"
#include "engine/api/channel.h"

namespace ca::engine {
namespace {

using nlohmann::json;

std::unexpected<Error> Bad(const std::string& field, const std::string& what) {
  return Fail(ErrorCode::kInvalidArgument, "config: " + field + ": " + what);
}

Result<std::string> Str(const json& obj, const std::string& prefix, const char* key, bool required = true,
                        std::string fallback = "") {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return Bad(prefix + key, "missing");
    return fallback;
  }
  if (!it->is_string() || it->get<std::string>().empty()) return Bad(prefix + key, "expected a non-empty string");
  return it->get<std::string>();
}

Status CheckKeys(const json& obj, const std::string& prefix, std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : obj.items()) {
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) return Bad(prefix + key, "unknown field");
  }
  return Ok();
}

Result<HsmConfig> ParseHsm(const json& obj, const std::string& prefix) {
  if (!obj.is_object()) return Bad(prefix, "expected an object");
  CA_TRY_STATUS(CheckKeys(obj, prefix + ".", {"module", "token_label", "pin", "pool_size"}));
  HsmConfig h;
  h.module = CA_TRY(Str(obj, prefix + ".", "module", false, h.module));
  h.token_label = CA_TRY(Str(obj, prefix + ".", "token_label"));
  h.pin = CA_TRY(Str(obj, prefix + ".", "pin"));
  if (!h.pin.starts_with("file:") && !h.pin.starts_with("env:")) {
    return Bad(prefix + ".pin", "expected \"file:/path\" or \"env:NAME\"");
  }
  if (auto it = obj.find("pool_size"); it != obj.end()) {
    if (!it->is_number_unsigned() || it->get<size_t>() == 0 || it->get<size_t>() > 64) {
      return Bad(prefix + ".pool_size", "expected 1..64");
    }
    h.pool_size = it->get<size_t>();
  }
  return h;
}

Result<InstanceConfig> ParseInstance(const json& obj, const std::string& prefix,
                                     const std::optional<HsmConfig>& default_hsm) {
  if (!obj.is_object()) return Bad(prefix, "expected an object");
  CA_TRY_STATUS(CheckKeys(obj, prefix + ".",
                          {"store", "status_store", "issuer_name", "profiles_dir", "intermediate_key_label",
                           "intermediate_cert", "chain", "ocsp_key_label", "ocsp_cert", "ocsp_url",
                           "ca_issuers_url", "crl_url", "hsm"}));
  std::string p = prefix + ".";
  InstanceConfig c;
  c.store = CA_TRY(Str(obj, p, "store"));
  c.status_store = CA_TRY(Str(obj, p, "status_store"));
  c.issuer_name = CA_TRY(Str(obj, p, "issuer_name"));
  c.profiles_dir = CA_TRY(Str(obj, p, "profiles_dir"));
  c.intermediate_key_label = CA_TRY(Str(obj, p, "intermediate_key_label"));
  c.intermediate_cert = CA_TRY(Str(obj, p, "intermediate_cert"));
  c.chain = CA_TRY(Str(obj, p, "chain", false, c.intermediate_cert));
  c.ocsp_key_label = CA_TRY(Str(obj, p, "ocsp_key_label"));
  c.ocsp_cert = CA_TRY(Str(obj, p, "ocsp_cert"));
  c.ocsp_url = CA_TRY(Str(obj, p, "ocsp_url"));
  c.ca_issuers_url = CA_TRY(Str(obj, p, "ca_issuers_url"));
  c.crl_url = CA_TRY(Str(obj, p, "crl_url"));
  if (auto it = obj.find("hsm"); it != obj.end()) {
    c.hsm = CA_TRY(ParseHsm(*it, p + "hsm"));
  } else if (default_hsm) {
    c.hsm = *default_hsm;
  } else {
    return Bad(p + "hsm", "missing (and no top-level hsm)");
  }
  return c;
}

}  // namespace

Result<EngineConfig> ParseEngineConfig(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Fail(ErrorCode::kInvalidArgument, "config: not a JSON object");
  CA_TRY_STATUS(CheckKeys(j, "", {"socket_path", "socket_group", "allowed_peer_uids", "channel", "hsm",
                                  "policy_store", "test_hooks", "instances", "audit_log", "metrics_file",
                                  "metrics_interval_seconds"}));
  EngineConfig c;
  c.socket_path = CA_TRY(Str(j, "", "socket_path"));
  if (auto it = j.find("socket_group"); it != j.end()) {
    if (it->is_number_unsigned()) {
      c.socket_group = it->get<gid_t>();
    } else if (it->is_string()) {
      std::string name = it->get<std::string>();
      group* g = ::getgrnam(name.c_str());
      if (g == nullptr) return Bad("socket_group", "no group named '" + name + "'");
      c.socket_group = g->gr_gid;
    } else {
      return Bad("socket_group", "expected a group name or gid");
    }
  }
  auto uids = j.find("allowed_peer_uids");
  if (uids == j.end() || !uids->is_array() || uids->empty()) {
    return Bad("allowed_peer_uids", "expected a non-empty array of uids");
  }
  for (const auto& u : *uids) {
    if (!u.is_number_unsigned()) return Bad("allowed_peer_uids", "expected a non-empty array of uids");
    c.allowed_peer_uids.push_back(u.get<uid_t>());
  }
  auto channel = j.find("channel");
  if (channel == j.end() || !channel->is_object()) return Bad("channel", "expected an object");
  CA_TRY_STATUS(CheckKeys(*channel, "channel.", {"cert", "key", "client_fingerprints"}));
  c.channel_cert = CA_TRY(Str(*channel, "channel.", "cert"));
  c.channel_key = CA_TRY(Str(*channel, "channel.", "key"));
  auto fps = channel->find("client_fingerprints");
  if (fps == channel->end() || !fps->is_array() || fps->empty()) {
    return Bad("channel.client_fingerprints", "expected a non-empty array");
  }
  for (const auto& f : *fps) {
    if (!f.is_string()) return Bad("channel.client_fingerprints", "expected strings");
    auto fp = engine::api::NormalizeFingerprint(f.get<std::string>());
    if (!fp) return Bad("channel.client_fingerprints", fp.error().message);
    c.client_fingerprints.push_back(*fp);
  }
  std::optional<HsmConfig> hsm;
  if (auto it = j.find("hsm"); it != j.end()) hsm = CA_TRY(ParseHsm(*it, "hsm"));
  c.policy_store = CA_TRY(Str(j, "", "policy_store"));
  if (auto it = j.find("test_hooks"); it != j.end()) {
    if (!it->is_boolean()) return Bad("test_hooks", "expected a boolean");
    c.test_hooks = it->get<bool>();
  }
  c.audit_log = CA_TRY(Str(j, "", "audit_log", false));
  c.metrics_file = CA_TRY(Str(j, "", "metrics_file", false));
  if (auto it = j.find("metrics_interval_seconds"); it != j.end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() < 1 || it->get<uint64_t>() > 3600) {
      return Bad("metrics_interval_seconds", "expected 1..3600");
    }
    c.metrics_interval_seconds = it->get<int>();
  }
  auto instances = j.find("instances");
  if (instances == j.end() || !instances->is_object()) return Bad("instances", "expected an object");
  CA_TRY_STATUS(CheckKeys(*instances, "instances.", {"production", "staging"}));
  if (!instances->contains("production")) return Bad("instances.production", "missing");
  c.instances[engine::api::CaEnvironment::kProduction] =
      CA_TRY(ParseInstance((*instances)["production"], "instances.production", hsm));
  if (instances->contains("staging")) {
    c.instances[engine::api::CaEnvironment::kStaging] =
        CA_TRY(ParseInstance((*instances)["staging"], "instances.staging", hsm));
    const auto& prod = c.instances[engine::api::CaEnvironment::kProduction];
    const auto& stag = c.instances[engine::api::CaEnvironment::kStaging];
    if (prod.store == stag.store || prod.status_store == stag.status_store ||
        prod.intermediate_cert == stag.intermediate_cert ||
        (prod.hsm.token_label == stag.hsm.token_label && prod.intermediate_key_label == stag.intermediate_key_label)) {
      return Bad("instances.staging", "must use its own stores, certificates and keys (never mixed with production)");
    }
  }
  return c;
}

Result<EngineConfig> LoadEngineConfig(const std::string& path) {
  std::string text = CA_TRY(ossl::ReadFile(path));
  return ParseEngineConfig(text);
}

}  // namespace ca::engine
