// Read-only access to the ACME accounts the gateway created in its own store (LMDB database
// `accounts`, values {"id","external_account_kid","profile","status","created_at","contact",
// "jwk_thumbprint"}; docs/ARCHITECTURE.md "Decisions"). The RA never writes there.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/lmdb.h"
#include "common/result.h"
#include "profiles/policy/profile_id.h"

namespace ca::appliance::ra {

struct GatewayAccount {
  std::string id;
  std::string external_account_kid;
  profiles::policy::ProfileId profile = profiles::policy::ProfileId::kSsl;
  std::string status;  // the gateway's (client-side) status: "valid", "deactivated", ...
  nlohmann::json raw;  // the record as stored (contact, created_at, jwk_thumbprint, ...)
};

class GatewayAccounts {
 public:
  static Result<GatewayAccounts> Open(const std::string& dir);
  Result<std::vector<GatewayAccount>> List() const;
  // kNotFound with "unknown ACME account <id>" when absent.
  Result<GatewayAccount> Find(const std::string& id) const;

 private:
  GatewayAccounts(lmdb::Env env, MDB_dbi dbi) : env_(std::move(env)), dbi_(dbi) {}
  lmdb::Env env_;
  MDB_dbi dbi_ = 0;
};

}  // namespace ca::appliance::ra
