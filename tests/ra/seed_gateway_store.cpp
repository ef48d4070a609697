// Test-only: stands in for the gateway by writing records into an LMDB store in the format of
// docs/ARCHITECTURE.md ("Decisions"): an ACME account, or a delivered certificate with its order.
// usage: ra_seed_gateway_store DIR ID KID PROFILE [STATUS]
//        ra_seed_gateway_store DIR --cert SERIAL ACME_ID KID NAME[,NAME...] PROFILE NOT_AFTER_UNIX
#include <ctime>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "kv/kv.h"

namespace {

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t comma; (comma = s.find(',', start)) != std::string::npos; start = comma + 1) {
    out.push_back(s.substr(start, comma - start));
  }
  out.push_back(s.substr(start));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool cert = argc == 9 && std::string(argv[2]) == "--cert";
  if (!cert && (argc < 5 || argc > 6)) {
    std::cerr
        << "usage: ra_seed_gateway_store DIR ID KID PROFILE [STATUS]\n"
           "       ra_seed_gateway_store DIR --cert SERIAL ACME_ID KID NAMES PROFILE NOT_AFTER\n";
    return 2;
  }
  ca::kv::EnvOptions o;
  o.location = argv[1];
  o.create = true;
  o.map_size = size_t{1} << 26;
  auto env = ca::kv::Env::Open(o);
  if (!env) {
    std::cerr << env.error().ToString() << "\n";
    return 1;
  }
  auto accounts = env->OpenTable("accounts", true);
  auto certs = env->OpenTable("certificates", true);
  auto orders = env->OpenTable("orders", true);
  auto txn = ca::kv::Txn::BeginWrite(*env);
  if (!accounts || !certs || !orders || !txn) return 1;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (cert) {
    std::string serial = argv[3], order_id = "order-" + serial;
    nlohmann::json c = {{"serial_hex", serial},
                        {"account_id", argv[4]},
                        {"external_account_kid", argv[5]},
                        {"order_id", order_id},
                        {"chain_pem", ""},
                        {"not_before", now - 60},
                        {"not_after", std::stoll(argv[8])}};
    nlohmann::json order = {{"id", order_id}, {"names", Split(argv[6])}, {"profile", argv[7]}};
    if (!txn->Put(*certs, serial, c.dump()) || !txn->Put(*orders, order_id, order.dump())) return 1;
  } else {
    nlohmann::json rec = {{"id", argv[2]},
                          {"external_account_kid", argv[3]},
                          {"profile", argv[4]},
                          {"status", argc == 6 ? argv[5] : "valid"},
                          {"created_at", now},
                          {"contact", nlohmann::json::array({"mailto:ops@example.com"})},
                          {"jwk_thumbprint", "thumb-" + std::string(argv[2])}};
    if (!txn->Put(*accounts, argv[2], rec.dump())) return 1;
  }
  if (!txn->Commit()) return 1;
  return 0;
}
