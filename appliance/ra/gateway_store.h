// Read-only access to what the gateway wrote in its own store (docs/ARCHITECTURE.md "Decisions"):
// the ACME accounts (LMDB database `accounts`: {"id","external_account_kid","profile","status",
// "created_at","contact","jwk_thumbprint"}), the certificates it delivered (`certificates`, keyed
// by canonical serial: {"serial_hex","account_id","external_account_kid","order_id","not_before",
// "not_after",...}) and their orders (`orders`: {"names","profile",...}). The RA never writes
// there; it reads only the fields named here and ignores the others.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "kv/kv.h"
#include "profiles/policy/profile_id.h"

namespace ca::appliance::ra {

struct GatewayAccount {
  std::string id;
  std::string external_account_kid;
  profiles::policy::ProfileId profile = profiles::policy::ProfileId::kSsl;
  std::string status;  // the gateway's (client-side) status: "valid", "deactivated", ...
  nlohmann::json raw;  // the record as stored (contact, created_at, jwk_thumbprint, ...)
};

// A certificate the gateway delivered, with the names and profile of its order.
struct GatewayCertificate {
  std::string serial_hex;
  std::string acme_account_id;
  std::string external_account_kid;
  std::string order_id;
  std::vector<std::string> names;
  std::string profile;
  int64_t not_before = 0;
  int64_t not_after = 0;
};

class GatewayStore {
 public:
  static Result<GatewayStore> Open(const std::string& dir);
  Result<std::vector<GatewayAccount>> Accounts() const;
  // kNotFound with "unknown ACME account <id>" when absent.
  Result<GatewayAccount> FindAccount(const std::string& id) const;

  // Every delivered certificate, in serial order.
  Result<std::vector<GatewayCertificate>> Certificates() const;
  // kNotFound with "unknown certificate <serial>" when the gateway never delivered it.
  Result<GatewayCertificate> FindCertificate(const std::string& serial_hex) const;

 private:
  struct Dbs {
    kv::Table accounts = 0, certificates = 0, orders = 0;
  };
  GatewayStore(kv::Env env, Dbs dbs) : env_(std::move(env)), dbs_(dbs) {}
  Result<GatewayCertificate> ReadCertificate(const kv::Txn& txn, std::string_view key,
                                             std::string_view value) const;
  kv::Env env_;
  Dbs dbs_;
};

}  // namespace ca::appliance::ra
