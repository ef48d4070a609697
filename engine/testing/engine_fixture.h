// Test-only helpers for the engine: a temp dir, a policy store with one valid organization and
// external account, a software CA (intermediate + OCSP signer) and CSRs with fresh keys.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "engine/api/contract.h"
#include "engine/ca_instance.h"
#include "profiles/policy/admin/writer.h"
#include "profiles/policy/store.h"

namespace ca::engine::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A policy store in `dir` with: organization "Exemple SA" (valid), external account `kid`
// (active, every profile allowed, valid for a year) with valid domains "example.fr"
// (include_subdomains), "*.example.fr" and "rgs.example.fr".
struct PolicyWorld {
  std::unique_ptr<profiles::policy::admin::PolicyWriter> store;  // the RA side (ca_policy_admin)
  std::string org_id;
  std::string kid;
  std::string mac_key;  // the external account's raw MAC key (what a client holds)
  int64_t now = 0;
};
// `mac_wrap_public`: the key the MAC key is wrapped to (an HSM unwrapping key's public half);
// null: a software key (profiles/policy/testing_util.h).
PolicyWorld MakePolicyWorld(const std::string& dir, const EVP_PKEY* mac_wrap_public = nullptr);

// Software keys standing in for the HSM's: the intermediate (RSA 3072) of
// profiles::issuance::testing::GetTestCa(), and a P-256 OCSP signer certified by it.
CaKeys MakeSoftwareKeys();
// The profiles of the repository (profiles/data/<env>).
std::string ProfilesDir(engine::api::CaEnvironment env);
CaInstanceOptions MakeInstanceOptions(const TempDir& dir, engine::api::CaEnvironment env =
                                                              engine::api::CaEnvironment::kProduction);

// A fresh RSA-3072 key (slow: generate before timing).
ossl::Pkey FreshRsaKey(int bits = 3072);
std::vector<uint8_t> CsrDer(const EVP_PKEY* key, const std::vector<std::string>& names);

engine::api::IssueRequest MakeIssueRequest(const std::string& request_id, const std::string& kid,
                                          const std::vector<std::string>& names, const EVP_PKEY* key,
                                          const std::string& profile = "SSL");

}  // namespace ca::engine::testing
