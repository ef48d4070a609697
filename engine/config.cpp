#include "engine/config.h"

#include <grp.h>

#include <nlohmann/json.hpp>

#include "common/openssl.h"
#include "crl_ocsp/crl_scope.h"
#include "engine/api/channel.h"
#include "kv/kv.h"
#include "pki/json_fields.h"

namespace ca::engine {
namespace {

using nlohmann::json;
using pki::JsonFields;

Result<HsmConfig> ParseHsm(const json& obj, const std::string& path) {
  auto f = CA_TRY(JsonFields::Of(obj, path));
  HsmConfig h;
  h.module = CA_TRY(f.OptionalNonEmptyString("module")).value_or(h.module);
  h.token_label = CA_TRY(f.NonEmptyString("token_label"));
  h.pin = CA_TRY(f.NonEmptyString("pin"));
  if (!h.pin.starts_with("file:") && !h.pin.starts_with("env:")) {
    return f.Bad("pin", "expected \"file:/path\" or \"env:NAME\"");
  }
  if (auto pool = CA_TRY(f.OptionalIntIn("pool_size", 1, 64)))
    h.pool_size = static_cast<size_t>(*pool);
  CA_TRY_STATUS(f.RefuseUnknown());
  return h;
}

Result<InstanceConfig> ParseInstance(const json& obj, const std::string& path,
                                     const std::optional<HsmConfig>& default_hsm, bool staging) {
  auto f = CA_TRY(JsonFields::Of(obj, path));
  InstanceConfig c;
  if (staging) {
    std::string access = CA_TRY(f.OptionalString("staging_access")).value_or("per-account");
    if (access != "per-account" && access != "all")
      return f.Bad("staging_access", "must be per-account or all");
    c.staging_grant_required = access == "per-account";
  }
  c.store = CA_TRY(f.NonEmptyString("store"));
  c.status_store = CA_TRY(f.NonEmptyString("status_store"));
  // A pair shares both stores (the status store's CRL numbers and OCSP responses too), and the
  // lease's fence guards the writes of both: never one on PostgreSQL and the other local.
  if (kv::IsPostgresLocation(c.store) != kv::IsPostgresLocation(c.status_store))
    return f.Bad("status_store", "must be on PostgreSQL (pg:...) exactly when store is");
  c.issuer_name = CA_TRY(f.NonEmptyString("issuer_name"));
  c.profiles_dir = CA_TRY(f.NonEmptyString("profiles_dir"));
  c.intermediate_key_label = CA_TRY(f.NonEmptyString("intermediate_key_label"));
  c.intermediate_cert = CA_TRY(f.NonEmptyString("intermediate_cert"));
  c.chain = CA_TRY(f.OptionalNonEmptyString("chain")).value_or(c.intermediate_cert);
  c.ocsp_key_label = CA_TRY(f.NonEmptyString("ocsp_key_label"));
  c.ocsp_cert = CA_TRY(f.NonEmptyString("ocsp_cert"));
  c.ocsp_url = CA_TRY(f.NonEmptyString("ocsp_url"));
  c.ca_issuers_url = CA_TRY(f.NonEmptyString("ca_issuers_url"));
  c.crl_url = CA_TRY(f.NonEmptyString("crl_url"));
  if (auto shards = CA_TRY(f.OptionalIntIn("crl_shards", 0, crl_ocsp::kMaxCrlShards))) {
    c.crl_shards = static_cast<uint32_t>(*shards);
  }
  if (c.crl_shards > 0 && !crl_ocsp::CrlScopeUrl(c.crl_url, crl_ocsp::CrlScope::Shard(0))) {
    return f.Bad("crl_url",
                 "must end in \".crl\" when crl_shards is set (shard k is <name>/k.crl)");
  }
  if (const json* hsm = CA_TRY(f.OptionalObject("hsm"))) {
    c.hsm = CA_TRY(ParseHsm(*hsm, f.PathOf("hsm")));
  } else if (default_hsm) {
    c.hsm = *default_hsm;
  } else {
    return f.Bad("hsm", "missing (and no top-level hsm)");
  }
  CA_TRY_STATUS(f.RefuseUnknown());
  return c;
}

Result<gid_t> ParseSocketGroup(JsonFields& f, const json& value) {
  if (value.is_number_unsigned()) return value.get<gid_t>();
  if (!value.is_string()) return f.Bad("socket_group", "expected a group name or gid");
  std::string name = value.get<std::string>();
  group* g = ::getgrnam(name.c_str());
  if (g == nullptr) return f.Bad("socket_group", "no group named '" + name + "'");
  return g->gr_gid;
}

Result<std::vector<uid_t>> ParsePeerUids(JsonFields& f) {
  auto value = f.Value("allowed_peer_uids");
  if (!value || !(*value)->is_array() || (*value)->empty()) {
    return f.Bad("allowed_peer_uids", "expected a non-empty array of uids");
  }
  std::vector<uid_t> uids;
  for (const auto& u : **value) {
    if (!u.is_number_unsigned())
      return f.Bad("allowed_peer_uids", "expected a non-empty array of uids");
    uids.push_back(u.get<uid_t>());
  }
  return uids;
}

Status ParseChannel(const json& obj, EngineConfig& c) {
  auto f = CA_TRY(JsonFields::Of(obj, "config.channel"));
  c.channel_cert = CA_TRY(f.NonEmptyString("cert"));
  c.channel_key = CA_TRY(f.NonEmptyString("key"));
  auto fps = CA_TRY(f.StringList("client_fingerprints"));
  if (fps.empty()) return f.Bad("client_fingerprints", "expected a non-empty array");
  for (const auto& text : fps) {
    auto fp = engine::api::NormalizeFingerprint(text);
    if (!fp) return f.Bad("client_fingerprints", fp.error().message);
    c.client_fingerprints.push_back(*fp);
  }
  c.peer_listen = CA_TRY(f.OptionalNonEmptyString("peer_listen")).value_or("");
  auto peer_fps =
      CA_TRY(f.OptionalStringList("peer_client_fingerprints")).value_or(std::vector<std::string>{});
  if (!c.peer_listen.empty()) {
    if (auto hp = engine::api::ParseHostPort(c.peer_listen); !hp)
      return f.Bad("peer_listen", hp.error().message);
    if (peer_fps.empty())
      return f.Bad("peer_client_fingerprints", "expected a non-empty array with peer_listen");
  } else if (!peer_fps.empty()) {
    return f.Bad("peer_client_fingerprints", "is for peer_listen, which is not set");
  }
  for (const auto& text : peer_fps) {
    auto fp = engine::api::NormalizeFingerprint(text);
    if (!fp) return f.Bad("peer_client_fingerprints", fp.error().message);
    c.peer_client_fingerprints.push_back(*fp);
  }
  return f.RefuseUnknown();
}

Status ParseHa(const json& obj, EngineConfig& c) {
  auto f = CA_TRY(JsonFields::Of(obj, "config.ha"));
  c.ha.node_name = CA_TRY(f.OptionalNonEmptyString("node_name")).value_or("");
  if (auto ttl = CA_TRY(f.OptionalIntIn("lease_ttl_seconds", 1, 600)))
    c.ha.lease_ttl_seconds = static_cast<int>(*ttl);
  CA_TRY_STATUS(f.RefuseUnknown());
  for (const auto& [env, ic] : c.instances) {
    if (!kv::IsPostgresLocation(ic.store))
      return Fail(ErrorCode::kInvalidArgument,
                  "config.ha: an engine pair needs the instances' stores on PostgreSQL (pg:...)");
  }
  return Ok();
}

Status ParseInstances(const json& obj, const std::optional<HsmConfig>& hsm, EngineConfig& c) {
  auto f = CA_TRY(JsonFields::Of(obj, "config.instances"));
  const json* production = CA_TRY(f.Value("production"));
  c.instances[engine::api::CaEnvironment::kProduction] =
      CA_TRY(ParseInstance(*production, f.PathOf("production"), hsm, false));
  if (const json* staging = CA_TRY(f.OptionalObject("staging"))) {
    c.instances[engine::api::CaEnvironment::kStaging] =
        CA_TRY(ParseInstance(*staging, f.PathOf("staging"), hsm, true));
    const auto& prod = c.instances[engine::api::CaEnvironment::kProduction];
    const auto& stag = c.instances[engine::api::CaEnvironment::kStaging];
    if (prod.store == stag.store || prod.status_store == stag.status_store ||
        prod.intermediate_cert == stag.intermediate_cert ||
        (prod.hsm.token_label == stag.hsm.token_label &&
         prod.intermediate_key_label == stag.intermediate_key_label)) {
      return f.Bad("staging",
                   "must use its own stores, certificates and keys (never mixed with production)");
    }
  }
  return f.RefuseUnknown();
}

}  // namespace

Result<EngineConfig> ParseEngineConfig(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Fail(ErrorCode::kInvalidArgument, "config: not a JSON object");
  auto f = CA_TRY(JsonFields::Of(j, "config"));
  EngineConfig c;
  c.socket_path = CA_TRY(f.NonEmptyString("socket_path"));
  f.MarkRead("socket_group");
  if (auto it = j.find("socket_group"); it != j.end())
    c.socket_group = CA_TRY(ParseSocketGroup(f, *it));
  c.allowed_peer_uids = CA_TRY(ParsePeerUids(f));
  CA_TRY_STATUS(ParseChannel(*CA_TRY(f.Object("channel")), c));
  std::optional<HsmConfig> hsm;
  if (const json* h = CA_TRY(f.OptionalObject("hsm"))) hsm = CA_TRY(ParseHsm(*h, f.PathOf("hsm")));
  c.policy_store = CA_TRY(f.NonEmptyString("policy_store"));
  c.mac_wrap_key_label = CA_TRY(f.OptionalNonEmptyString("mac_wrap_key_label")).value_or("");
  c.test_hooks = CA_TRY(f.OptionalBool("test_hooks")).value_or(c.test_hooks);
  c.audit_log = CA_TRY(f.OptionalNonEmptyString("audit_log")).value_or("");
  c.metrics_file = CA_TRY(f.OptionalNonEmptyString("metrics_file")).value_or("");
  if (auto s = CA_TRY(f.OptionalIntIn("metrics_interval_seconds", 1, 3600))) {
    c.metrics_interval_seconds = static_cast<int>(*s);
  }
  CA_TRY_STATUS(ParseInstances(*CA_TRY(f.Object("instances")), hsm, c));
  if (const json* ha = CA_TRY(f.OptionalObject("ha"))) CA_TRY_STATUS(ParseHa(*ha, c));
  CA_TRY_STATUS(f.RefuseUnknown());
  return c;
}

Result<EngineConfig> LoadEngineConfig(const std::string& path) {
  std::string text = CA_TRY(ossl::ReadFile(path));
  return ParseEngineConfig(text);
}

}  // namespace ca::engine
