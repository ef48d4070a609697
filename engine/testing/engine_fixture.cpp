#include "engine/testing/engine_fixture.h"

#include <openssl/rsa.h>
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>

#include "common/secret.h"
#include "crl_ocsp/testing/test_pki.h"
#include "profiles/issuance/testing/test_pki.h"
#include "profiles/policy/admin/admin.h"
#include "profiles/policy/testing_util.h"

namespace ca::engine::testing {
namespace {

template <class T>
T Must(Result<T> r, const char* what) {
  if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().ToString());
  return std::move(*r);
}

}  // namespace

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ca-engine-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

PolicyWorld MakePolicyWorld(const std::string& dir, const EVP_PKEY* mac_wrap_public) {
  PolicyWorld w;
  w.now = static_cast<int64_t>(::time(nullptr));
  w.store = std::make_unique<profiles::policy::admin::PolicyWriter>(Must(profiles::policy::admin::PolicyWriter::Create(dir, "test", w.now), "policy"));
  profiles::policy::admin::AdminContext ctx{w.store.get(), "ra:test", w.now};
  auto org = Must(profiles::policy::admin::CreateOrganization(ctx, {"Exemple SA", "FR", "Paris", "12345678900011"}), "org");
  w.org_id = org.id;
  Must(profiles::policy::admin::SetOrganizationStatus(ctx, org.id, profiles::policy::OrgStatus::kValid), "org status");
  profiles::policy::admin::ExternalAccountFields f;
  f.organization_id = org.id;
  f.contacts = std::vector<std::string>{"Alice Admin <alice@example.fr>"};
  f.not_before = w.now - 3600;
  f.not_after = w.now + 365 * 86400;
  f.allowed_profiles = std::vector<profiles::policy::ProfileId>(profiles::policy::kAllProfiles.begin(),
                                                                profiles::policy::kAllProfiles.end());
  f.allowed_challenges = std::vector<std::string>{"http-01", "dns-01"};
  const EVP_PKEY* wrap = mac_wrap_public != nullptr ? mac_wrap_public : profiles::policy::testing::SoftwareMacWrapKey();
  auto creds = Must(profiles::policy::admin::CreateExternalAccount(ctx, f, /*activate=*/true, wrap), "external account");
  w.kid = creds.account.kid;
  w.mac_key = std::string(creds.mac_key.view());
  profiles::policy::admin::DomainFields sub;
  sub.include_subdomains = true;
  for (auto [fqdn, fields] : {std::pair<std::string, profiles::policy::admin::DomainFields>{"example.fr", sub},
                              {"*.example.fr", profiles::policy::admin::DomainFields{{}, false, {"dns-01"}}},
                              {"rgs.example.fr", profiles::policy::admin::DomainFields{}}}) {
    Must(profiles::policy::admin::AddDomain(ctx, w.kid, fqdn, fields), "domain");
    Must(profiles::policy::admin::SetDomainStatus(ctx, w.kid, fqdn, profiles::policy::DomainStatus::kValid), "domain status");
  }
  return w;
}

CaKeys MakeSoftwareKeys() {
  const auto& ca = profiles::issuance::testing::GetTestCa();
  CaKeys keys;
  EVP_PKEY* ik = const_cast<EVP_PKEY*>(ca.intermediate_key);
  EVP_PKEY_up_ref(ik);
  keys.issuer_key.reset(ik);
  keys.issuer_cert.reset(X509_dup(ca.intermediate.get()));
  keys.chain_pem = Must(ossl::CertToPem(ca.intermediate.get()), "chain");
  keys.ocsp_key = crl_ocsp::testing::MakeEcKey();
  keys.ocsp_cert = crl_ocsp::testing::MakeCert({"Test OCSP Signer", false, true, 77, 365}, keys.ocsp_key.get(),
                                             keys.issuer_cert.get(), keys.issuer_key.get());
  return keys;
}

std::string ProfilesDir(engine::api::CaEnvironment env) {
  return std::string(CA_PROFILES_DATA_DIR) + "/" + std::string(engine::api::CaEnvironmentName(env));
}

CaInstanceOptions MakeInstanceOptions(const TempDir& dir, engine::api::CaEnvironment env) {
  std::string name(engine::api::CaEnvironmentName(env));
  CaInstanceOptions o;
  o.environment = env;
  o.store_dir = dir.Sub(name + "-ca");
  o.status_store_dir = dir.Sub(name + "-status");
  o.issuer_name = name + "-int";
  o.profiles_dir = ProfilesDir(env);
  const auto& issuer = profiles::issuance::testing::GetTestCa().issuer;
  o.ocsp_url = issuer.ocsp_url;
  o.ca_issuers_url = issuer.ca_issuers_url;
  o.crl_url = issuer.crl_url;
  return o;
}

ossl::Pkey FreshRsaKey(int bits) {
  ossl::Pkey key(EVP_RSA_gen(static_cast<unsigned>(bits)));
  if (!key) throw std::runtime_error("EVP_RSA_gen failed");
  return key;
}

std::vector<uint8_t> CsrDer(const EVP_PKEY* key, const std::vector<std::string>& names) {
  auto csr = profiles::issuance::testing::MakeCsr(key, std::nullopt, names);
  return Must(ossl::CsrToDer(csr.get()), "csr");
}

engine::api::IssueRequest MakeIssueRequest(const std::string& request_id, const std::string& kid,
                                          const std::vector<std::string>& names, const EVP_PKEY* key,
                                          const std::string& profile) {
  engine::api::IssueRequest r;
  r.request_id = request_id;
  r.order_id = "order-" + request_id;
  r.acme_account_id = "acct-1";
  r.external_account_kid = kid;
  r.profile = profile;
  r.names = names;
  r.csr_der = CsrDer(key, names);
  r.policy_version = 1;
  return r;
}

}  // namespace ca::engine::testing
