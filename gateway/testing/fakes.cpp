#include "gateway/testing/fakes.h"

#include <openssl/rsa.h>
#include <openssl/x509v3.h>

namespace ca::gateway::testing {

Result<std::optional<ExternalAccountView>> FakePolicy::FindExternalAccount(const std::string& kid, int64_t) {
  auto it = accounts.find(kid);
  if (it == accounts.end()) return std::optional<ExternalAccountView>();
  return std::optional<ExternalAccountView>(it->second.view);
}

engine::api::Response FakeIssuer::VerifyEab(const engine::api::VerifyExternalAccountBindingRequest& eab) {
  std::lock_guard lock(mu_);
  eab_requests.push_back(eab);
  if (mac_keys_of == nullptr) return engine::api::EngineError{engine::api::EngineErrorKind::kUnavailable, "", "", "no HSM"};
  auto it = mac_keys_of->accounts.find(eab.kid);
  if (it == mac_keys_of->accounts.end()) return engine::api::ExternalAccountBindingVerdict{false};
  Jws as_received;
  as_received.alg = "HS256";
  as_received.signature = eab.mac;
  auto dot = eab.signing_input.find('.');
  as_received.protected_b64 = eab.signing_input.substr(0, dot);
  as_received.payload_b64 = dot == std::string::npos ? "" : eab.signing_input.substr(dot + 1);
  return engine::api::ExternalAccountBindingVerdict{VerifyHs256(as_received, it->second.mac_key)};
}

Result<PolicyVerdict> FakePolicy::Decide(const AccountRecord& account, const std::vector<std::string>& names,
                                         const std::string& profile, int64_t) {
  PolicyVerdict v;
  v.policy_version = 7;
  v.profile = account.profile;
  if (!account_refusal.empty()) {
    v.result_code = account_refusal;
    v.detail = "account refused";
    return v;
  }
  if (profile != account.profile) {
    v.result_code = "PROFILE_NOT_ALLOWED";
    return v;
  }
  for (const auto& n : names) {
    if (n.starts_with("*.") && account.profile != "WILD") {
      v.result_code = "INVALID_PROFILE_FOR_WILDCARD";
      v.name = n;
      return v;
    }
    if (!allowed_names.contains(n)) {
      v.result_code = "DOMAIN_NOT_FOUND";
      v.name = n;
      return v;
    }
  }
  v.allowed = true;
  return v;
}

Result<ossl::Pkey> GenerateKey(const std::string& kind) {
  EVP_PKEY* raw = nullptr;
  if (kind == "RSA2048") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  else if (kind == "RSA3072") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{3072});
  else if (kind == "RSA4096") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{4096});
  else if (kind == "RSA1024") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024});
  else if (kind == "P-256") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  else if (kind == "P-384") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  else if (kind == "Ed25519") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (raw == nullptr) return ossl::CryptoFail("keygen " + kind);
  return ossl::Pkey(raw);
}

Result<Bytes> MakeCsr(EVP_PKEY* key, const std::vector<std::string>& names) {
  ossl::X509Req req(X509_REQ_new());
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(names[0].c_str()), -1, -1, 0);
  X509_REQ_set_pubkey(req.get(), key);
  std::string san;
  for (const auto& n : names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  sk_X509_EXTENSION_push(exts, ext);
  X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) return ossl::CryptoFail("sign CSR");
  return ossl::CsrToDer(req.get());
}

FakeIssuer::FakeIssuer() {
  ca_key_ = std::move(*GenerateKey("P-256"));
  ca_cert_.reset(X509_new());
  X509_set_version(ca_cert_.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(ca_cert_.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(ca_cert_.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(ca_cert_.get()), 86400);
  X509_NAME* n = X509_get_subject_name(ca_cert_.get());
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Fake CA"), -1, -1, 0);
  X509_set_issuer_name(ca_cert_.get(), n);
  X509_set_pubkey(ca_cert_.get(), ca_key_.get());
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_cert_.get(), ca_cert_.get(), nullptr, nullptr, 0);
  ossl::X509Ext ski(X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_key_identifier, "hash"));
  X509_add_ext(ca_cert_.get(), ski.get(), -1);
  X509_sign(ca_cert_.get(), ca_key_.get(), EVP_sha256());
}

void FakeIssuer::RevokeBehindTheGateway(const std::string& serial_hex, pki::RevocationReason reason) {
  std::lock_guard lock(mu_);
  engine::api::RevokeRequest r;
  r.serial_hex = serial_hex;
  r.reason = reason;
  r.actor = "ra:test";
  revocations.push_back(r);
}

engine::api::Response FakeIssuer::GetCertificate(const engine::api::GetCertificateRequest& get) {
  std::lock_guard lock(mu_);
  for (const auto& [id, issued] : by_request_) {
    if (issued.serial_hex != get.serial_hex) continue;
    engine::api::CertificateRecord r;
    r.serial_hex = issued.serial_hex;
    r.certificate_pem = issued.certificate_pem;
    r.chain_pem = issued.chain_pem;
    r.not_before = issued.not_before;
    r.not_after = issued.not_after;
    for (const auto& rev : revocations) {
      if (rev.serial_hex != issued.serial_hex) continue;
      r.revoked = true;
      r.revoked_at = 1;
      r.reason = rev.reason;
    }
    return r;
  }
  return engine::api::EngineError{engine::api::EngineErrorKind::kNotFound, "", "", "unknown serial " + get.serial_hex};
}

Result<engine::api::Response> FakeIssuer::Call(const engine::api::Request& request) {
  if (transport_down) return Fail(ErrorCode::kUnavailable, "engine down");
  if (auto* rev = std::get_if<engine::api::RevokeRequest>(&request)) {
    std::lock_guard lock(mu_);
    for (const auto& r : revocations)
      if (r.serial_hex == rev->serial_hex)
        return engine::api::Response(engine::api::EngineError{engine::api::EngineErrorKind::kAlreadyRevoked, "", "", "already revoked"});
    revocations.push_back(*rev);
    return engine::api::Response(engine::api::RevokeResponse{true, 1});
  }
  if (auto* get = std::get_if<engine::api::GetCertificateRequest>(&request)) return GetCertificate(*get);
  if (auto* eab = std::get_if<engine::api::VerifyExternalAccountBindingRequest>(&request)) return VerifyEab(*eab);
  auto* issue = std::get_if<engine::api::IssueRequest>(&request);
  if (issue == nullptr) return Fail(ErrorCode::kInvalidArgument, "unexpected request");
  ++issue_calls;
  if (while_signing) while_signing();
  if (refuse) return engine::api::Response(*refuse);
  if (answer_issue_with_wrong_type) return engine::api::Response(engine::api::RevokeResponse{true, 1});
  std::lock_guard lock(mu_);
  if (auto it = by_request_.find(issue->request_id); it != by_request_.end()) return engine::api::Response(it->second);
  auto csr = CA_TRY(ossl::CsrFromDer(issue->csr_der));
  ossl::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  Bytes serial = RandomBytes(16);
  serial[0] &= 0x7f;
  serial[0] |= 0x10;
  ossl::Bn bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 90 * 86400);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert_.get()));
  X509_set_subject_name(cert.get(), X509_REQ_get_subject_name(csr.get()));
  X509_set_pubkey(cert.get(), X509_REQ_get0_pubkey(csr.get()));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_cert_.get(), cert.get(), nullptr, nullptr, 0);
  ossl::X509Ext aki(X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  ossl::X509Ext ku(X509V3_EXT_conf_nid(nullptr, &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  X509_add_ext(cert.get(), aki.get(), -1);
  X509_add_ext(cert.get(), ku.get(), -1);
  X509_sign(cert.get(), ca_key_.get(), EVP_sha256());
  engine::api::IssueResponse r;
  char* hex = BN_bn2hex(bn.get());
  r.serial_hex = hex;
  OPENSSL_free(hex);
  for (auto& c : r.serial_hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  r.certificate_pem = CA_TRY(ossl::CertToPem(cert.get()));
  r.chain_pem = r.certificate_pem + CA_TRY(ossl::CertToPem(ca_cert_.get()));
  r.not_before = 1'000'000;
  r.not_after = 1'000'000 + 90 * 86400;
  by_request_[issue->request_id] = r;
  return engine::api::Response(r);
}

ValidationResult FakeValidator::ValidateChallenge(const std::string&, const std::string&, const std::string&,
                                                  const std::string& key_authorization) {
  ++calls;
  last_key_authorization = key_authorization;
  if (before_answer) before_answer();
  return challenge_result;
}

ValidationResult FakeValidator::CheckCaa(const std::string&, bool, const std::string&, const std::string&) {
  return caa_result;
}

Client::Client(AcmeServer& server, std::string base, std::string alg_name)
    : alg(std::move(alg_name)), server_(server), base_(std::move(base)) {
  std::string kind = alg == "RS256" ? "RSA2048" : alg == "ES384" ? "P-384" : alg == "EdDSA" ? "Ed25519" : "P-256";
  key = std::move(*GenerateKey(kind));
}

nlohmann::json Client::Jwk() const { return *JwkFromPublicKey(key.get()); }

Reply Client::Raw(const std::string& method, const std::string& url, const std::string& body,
                  const std::string& content_type) {
  HttpRequest req;
  req.method = method;
  req.path = url.starts_with(base_) ? url.substr(base_.size()) : url;
  req.content_type = content_type;
  req.body = body;
  req.body_too_large = body.size() > server_.options().max_body_bytes;
  HttpResponse resp = server_.Handle(req);
  Reply r;
  r.status = resp.status;
  r.raw = resp.body;
  for (const auto& [k, v] : resp.headers) {
    if (k == "Link" && r.headers.contains("Link")) r.headers[k] += ", " + v;
    else r.headers[k] = v;
  }
  r.body = nlohmann::json::parse(resp.body, nullptr, false);
  return r;
}

std::string Client::Nonce() { return Raw("HEAD", base_ + "/acme/new-nonce", "").headers["Replay-Nonce"]; }

Reply Client::Post(const std::string& url, const std::optional<nlohmann::json>& payload, bool use_jwk,
                   const std::function<void(nlohmann::json&)>& header_edit) {
  nlohmann::json header = {{"alg", alg}, {"nonce", Nonce()}, {"url", url}};
  if (use_jwk || account_url.empty()) header["jwk"] = Jwk();
  else header["kid"] = account_url;
  if (header_edit) header_edit(header);
  auto body = SignJws(header, payload ? payload->dump() : "", key.get(), alg);
  return Raw("POST", url, *body);
}

nlohmann::json Client::Eab(const std::string& kid, const Bytes& mac, const std::function<void(nlohmann::json&)>& header_edit,
                           const std::optional<nlohmann::json>& payload) {
  nlohmann::json header = {{"alg", "HS256"}, {"kid", kid}, {"url", base_ + "/acme/new-account"}};
  if (header_edit) header_edit(header);
  auto jws = SignJwsHs256(header, (payload ? *payload : Jwk()).dump(), mac);
  return nlohmann::json::parse(*jws);
}

Reply Client::Register(const std::string& kid, const Bytes& mac) {
  Reply r = Post(base_ + "/acme/new-account",
                 nlohmann::json{{"termsOfServiceAgreed", true}, {"contact", {"mailto:ops@example.com"}},
                                {"externalAccountBinding", Eab(kid, mac)}},
                 true);
  if (r.status == 201 || r.status == 200) account_url = r.headers["Location"];
  return r;
}

}  // namespace ca::gateway::testing
