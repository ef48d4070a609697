#include "appliance/ra/gateway_accounts.h"

namespace ca::appliance::ra {

namespace {

Result<GatewayAccount> Parse(std::string_view key, std::string_view value) {
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

}  // namespace

Result<GatewayAccounts> GatewayAccounts::Open(const std::string& dir) {
  lmdb::EnvOptions o;
  o.path = dir;
  o.read_only = true;
  auto env = lmdb::Env::Open(o);
  if (!env) return Fail(env.error().code, "gateway store: " + env.error().message);
  auto dbi = env->OpenDb("accounts", false);
  if (!dbi) return Fail(dbi.error().code, "gateway store " + dir + ": " + dbi.error().message);
  return GatewayAccounts(std::move(*env), *dbi);
}

Result<std::vector<GatewayAccount>> GatewayAccounts::List() const {
  auto txn = CA_TRY(lmdb::Txn::BeginRead(env_));
  std::vector<GatewayAccount> out;
  std::optional<Error> failure;
  CA_TRY_STATUS(txn.ForEach(dbi_, "", [&](std::string_view k, std::string_view v) {
    auto a = Parse(k, v);
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

Result<GatewayAccount> GatewayAccounts::Find(const std::string& id) const {
  auto txn = CA_TRY(lmdb::Txn::BeginRead(env_));
  auto v = CA_TRY(txn.Get(dbi_, id));
  if (!v) return Fail(ErrorCode::kNotFound, "unknown ACME account " + id);
  return Parse(id, *v);
}

}  // namespace ca::appliance::ra
