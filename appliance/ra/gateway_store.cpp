#include "appliance/ra/gateway_store.h"

#include "pki/json_fields.h"

namespace ca::appliance::ra {

namespace {

Result<GatewayAccount> ParseAccount(std::string_view key, std::string_view value) {
  try {
    GatewayAccount a;
    a.raw = nlohmann::json::parse(value);
    a.id = a.raw.at("id").get<std::string>();
    a.external_account_kid = a.raw.at("external_account_kid").get<std::string>();
    auto p = profiles::policy::ParseProfile(a.raw.at("profile").get<std::string>());
    if (!p) throw std::runtime_error("unknown profile");
    a.profile = *p;
    a.status = a.raw.value("status", "");
    return a;
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kCorrupt,
                "gateway account record " + std::string(key) + " is malformed: " + e.what());
  }
}

Result<nlohmann::json> ParseJson(std::string_view what, std::string_view key,
                                 std::string_view value) {
  auto j = nlohmann::json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Fail(ErrorCode::kCorrupt,
                "gateway " + std::string(what) + " record " + std::string(key) + " is not JSON");
  }
  return j;
}

}  // namespace

Result<GatewayStore> GatewayStore::Open(const std::string& dir) {
  kv::EnvOptions o;
  o.location = dir;
  o.read_only = true;
  auto env = kv::Env::Open(o);
  if (!env) return Fail(env.error().code, "gateway store: " + env.error().message);
  Dbs dbs;
  for (auto [name, dbi] : {std::pair{"accounts", &dbs.accounts},
                           {"certificates", &dbs.certificates},
                           {"orders", &dbs.orders}}) {
    auto opened = env->OpenTable(name, false);
    if (!opened)
      return Fail(opened.error().code, "gateway store " + dir + ": " + opened.error().message);
    *dbi = *opened;
  }
  return GatewayStore(std::move(*env), dbs);
}

Result<std::vector<GatewayAccount>> GatewayStore::Accounts() const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  std::vector<GatewayAccount> out;
  std::optional<Error> failure;
  CA_TRY_STATUS(txn.ForEach(dbs_.accounts, "", [&](std::string_view k, std::string_view v) {
    auto a = ParseAccount(k, v);
    if (!a) {
      failure = a.error();
      return false;
    }
    out.push_back(std::move(*a));
    return true;
  }));
  if (failure) return std::unexpected(*failure);
  return out;
}

Result<GatewayAccount> GatewayStore::FindAccount(const std::string& id) const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  auto v = CA_TRY(txn.Get(dbs_.accounts, id));
  if (!v) return Fail(ErrorCode::kNotFound, "unknown ACME account " + id);
  return ParseAccount(id, *v);
}

Result<GatewayCertificate> GatewayStore::ReadCertificate(const kv::Txn& txn, std::string_view key,
                                                         std::string_view value) const {
  auto j = CA_TRY(ParseJson("certificate", key, value));
  auto f = CA_TRY(
      pki::JsonFields::Of(j, "gateway certificate " + std::string(key), ErrorCode::kCorrupt));
  GatewayCertificate c;
  c.serial_hex = CA_TRY(f.String("serial_hex"));
  c.acme_account_id = CA_TRY(f.String("account_id"));
  c.external_account_kid = CA_TRY(f.String("external_account_kid"));
  c.order_id = CA_TRY(f.String("order_id"));
  c.not_before = CA_TRY(f.Int("not_before"));
  c.not_after = CA_TRY(f.Int("not_after"));
  if (auto order = CA_TRY(txn.Get(dbs_.orders, c.order_id))) {
    auto oj = CA_TRY(ParseJson("order", c.order_id, *order));
    auto of = CA_TRY(pki::JsonFields::Of(oj, "gateway order " + c.order_id, ErrorCode::kCorrupt));
    c.names = CA_TRY(of.OptionalStringList("names")).value_or(std::vector<std::string>{});
    c.profile = CA_TRY(of.OptionalString("profile")).value_or("");
  }
  return c;
}

Result<std::vector<GatewayCertificate>> GatewayStore::Certificates() const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  std::vector<GatewayCertificate> out;
  std::optional<Error> failure;
  CA_TRY_STATUS(txn.ForEach(dbs_.certificates, "", [&](std::string_view k, std::string_view v) {
    auto c = ReadCertificate(txn, k, v);
    if (!c) {
      failure = c.error();
      return false;
    }
    out.push_back(std::move(*c));
    return true;
  }));
  if (failure) return std::unexpected(*failure);
  return out;
}

Result<GatewayCertificate> GatewayStore::FindCertificate(const std::string& serial_hex) const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  auto v = CA_TRY(txn.Get(dbs_.certificates, serial_hex));
  if (!v)
    return Fail(ErrorCode::kNotFound,
                "unknown certificate " + serial_hex + " (not in the gateway store)");
  return ReadCertificate(txn, serial_hex, *v);
}

}  // namespace ca::appliance::ra
