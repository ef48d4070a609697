// Test-only: stands in for the gateway by writing ACME account records into an LMDB store's
// `accounts` database, in the format of docs/ARCHITECTURE.md ("Decisions").
// usage: ra_seed_gateway_store DIR ID KID PROFILE [STATUS]
#include <ctime>
#include <iostream>

#include <nlohmann/json.hpp>

#include "common/lmdb.h"

int main(int argc, char** argv) {
  if (argc < 5 || argc > 6) {
    std::cerr << "usage: ra_seed_gateway_store DIR ID KID PROFILE [STATUS]\n";
    return 2;
  }
  ca::lmdb::EnvOptions o;
  o.path = argv[1];
  o.create = true;
  o.map_size = size_t{1} << 26;
  auto env = ca::lmdb::Env::Open(o);
  if (!env) {
    std::cerr << env.error().ToString() << "\n";
    return 1;
  }
  auto dbi = env->OpenDb("accounts", true);
  auto txn = ca::lmdb::Txn::BeginWrite(*env);
  if (!dbi || !txn) return 1;
  nlohmann::json rec = {{"id", argv[2]},
                        {"external_account_kid", argv[3]},
                        {"profile", argv[4]},
                        {"status", argc == 6 ? argv[5] : "valid"},
                        {"created_at", static_cast<int64_t>(std::time(nullptr))},
                        {"contact", nlohmann::json::array({"mailto:ops@example.com"})},
                        {"jwk_thumbprint", "thumb-" + std::string(argv[2])}};
  if (!txn->Put(*dbi, argv[2], rec.dump()) || !txn->Commit()) return 1;
  return 0;
}
