// Test doubles for the gateway's ports and a small in-process ACME client that signs requests and
// calls AcmeServer::Handle directly.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <set>

#include "gateway/acme_server.h"

namespace ca::gateway::testing {

struct FakeExternalAccount {
  ExternalAccountView view;
  Bytes mac_key;  // held by the fake engine's "HSM" (FakeIssuer::mac_keys_of), never by the gateway
};

class FakePolicy final : public PolicyPort {
 public:
  std::map<std::string, FakeExternalAccount> accounts;
  std::set<std::string> allowed_names;   // names Decide accepts
  std::string account_refusal;           // non-empty: Decide refuses every account with this code
  Result<std::optional<ExternalAccountView>> FindExternalAccount(const std::string& kid, int64_t now) override;
  Result<PolicyVerdict> Decide(const AccountRecord& account, const std::vector<std::string>& names,
                               const std::string& profile, int64_t now) override;
};

// Issues real certificates from a throw-away CA (RSA 2048) so revocation and ARI can be tested.
class FakeIssuer final : public IssuerPort {
 public:
  FakeIssuer();
  std::optional<engine::api::EngineError> refuse;  // answer every issue with this error
  bool transport_down = false;
  bool answer_issue_with_wrong_type = false;  // a protocol defect: answers issue with a RevokeResponse
  std::atomic<int> issue_calls{0};
  std::function<void()> while_signing;  // called during each issue request, before it answers
  std::vector<engine::api::RevokeRequest> revocations;  // every revocation the engine holds
  // The engine's side of EAB: answers VerifyExternalAccountBindingRequest with the MAC keys of
  // these accounts (as the real engine does with the HSM); every request is kept.
  const FakePolicy* mac_keys_of = nullptr;
  std::vector<engine::api::VerifyExternalAccountBindingRequest> eab_requests;
  Result<engine::api::Response> Call(const engine::api::Request& request) override;
  // Revokes in the engine only, as the RA or a mass revocation does (the gateway is not told).
  void RevokeBehindTheGateway(const std::string& serial_hex, pki::RevocationReason reason);

 private:
  engine::api::Response GetCertificate(const engine::api::GetCertificateRequest& get);
  engine::api::Response VerifyEab(const engine::api::VerifyExternalAccountBindingRequest& eab);
  ossl::Pkey ca_key_;
  ossl::X509Ptr ca_cert_;
  std::mutex mu_;
  std::map<std::string, engine::api::IssueResponse> by_request_;
};

class FakeValidator final : public ValidatorPort {
 public:
  ValidationResult challenge_result{ValidationResult::Status::kValid, ProblemKind::kConnection, ""};
  ValidationResult caa_result{ValidationResult::Status::kValid, ProblemKind::kConnection, ""};
  std::atomic<int> calls{0};
  std::string last_key_authorization;
  std::function<void()> before_answer;  // runs in every ValidateChallenge: a test may hold it there
  ValidationResult ValidateChallenge(const std::string& type, const std::string& name, const std::string& token,
                                     const std::string& key_authorization) override;
  ValidationResult CheckCaa(const std::string& name, bool wildcard, const std::string& account_uri,
                            const std::string& method) override;
};

Result<ossl::Pkey> GenerateKey(const std::string& kind);  // "RSA2048", "RSA3072", "RSA4096", "P-256", "P-384", "Ed25519"
// A CSR for `names` (first also as CN) signed by `key`, DER.
Result<Bytes> MakeCsr(EVP_PKEY* key, const std::vector<std::string>& names);

struct Reply {
  int status = 0;
  nlohmann::json body;
  std::string raw;
  std::map<std::string, std::string> headers;
  std::string type() const { return body.is_object() ? body.value("type", "") : ""; }
  std::string detail() const { return body.is_object() ? body.value("detail", "") : ""; }
};

// An ACME client calling the server in-process.
class Client {
 public:
  Client(AcmeServer& server, std::string base, std::string alg = "ES256");
  ossl::Pkey key;
  std::string alg;
  std::string account_url;  // kid once registered

  std::string Nonce();
  nlohmann::json Jwk() const;
  // Signed POST; `payload` nullopt is POST-as-GET. `header_edit` may alter the protected header.
  Reply Post(const std::string& url, const std::optional<nlohmann::json>& payload, bool use_jwk = false,
             const std::function<void(nlohmann::json&)>& header_edit = nullptr);
  Reply Raw(const std::string& method, const std::string& url, const std::string& body,
            const std::string& content_type = "application/jose+json");
  // EAB object for newAccount.
  nlohmann::json Eab(const std::string& kid, const Bytes& mac,
                     const std::function<void(nlohmann::json&)>& header_edit = nullptr,
                     const std::optional<nlohmann::json>& payload = std::nullopt);
  Reply Register(const std::string& kid, const Bytes& mac);

 private:
  AcmeServer& server_;
  std::string base_;
};

}  // namespace ca::gateway::testing
