#include "engine/ca_instance.h"

#include <openssl/err.h>

#include <algorithm>
#include <set>

#include "common/encoding.h"
#include "common/log.h"
#include "crl_ocsp/ocsp_response.h"
#include "pki/crl_builder.h"
#include "profiles/issuance/csr_check.h"
#include "profiles/issuance/dns_names.h"
#include "profiles/issuance/lint.h"
#include "profiles/issuance/serial.h"

namespace ca::engine {
namespace {

using engine_api::EngineError;
using engine_api::EngineErrorKind;
using engine_api::Response;

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Response Refuse(EngineErrorKind kind, std::string detail, std::string result_code = "", std::string name = "") {
  return Response(EngineError{kind, std::move(result_code), std::move(name), std::move(detail)});
}

int64_t AsUnix(const ASN1_TIME* t) {
  auto parsed = status::FromAsn1Time(t);
  return parsed ? parsed->time_since_epoch().count() : 0;
}

issuance::Environment ToIssuanceEnv(engine_api::CaEnvironment env) {
  return env == engine_api::CaEnvironment::kStaging ? issuance::Environment::kStaging
                                                    : issuance::Environment::kProduction;
}

status::Time ToTime(int64_t unix_seconds) { return status::Time(std::chrono::seconds(unix_seconds)); }

}  // namespace

Result<std::unique_ptr<CaInstance>> CaInstance::Open(CaInstanceOptions options, CaKeys keys, CrashHook crash_hook) {
  std::string env_name(engine_api::CaEnvironmentName(options.environment));
  if (!keys.issuer_key || !keys.issuer_cert || !keys.ocsp_key || !keys.ocsp_cert) {
    return Fail(ErrorCode::kInvalidArgument, env_name + ": issuer and OCSP signer keys and certificates are required");
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(keys.issuer_cert.get()), keys.issuer_key.get()) != 1) {
    return Fail(ErrorCode::kFailedPrecondition,
                env_name + ": the intermediate key does not match the intermediate certificate's public key");
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(keys.ocsp_cert.get()), keys.ocsp_key.get()) != 1) {
    return Fail(ErrorCode::kFailedPrecondition,
                env_name + ": the OCSP signer key does not match the OCSP signer certificate's public key");
  }
  std::unique_ptr<CaInstance> inst(new CaInstance(std::move(options), std::move(keys), std::move(crash_hook)));
  const auto& opt = inst->options_;
  inst->profiles_ = CA_TRY(issuance::LoadProfiles(opt.profiles_dir, ToIssuanceEnv(opt.environment)));
  inst->issuer_ = issuance::Issuer{inst->keys_.issuer_cert.get(), opt.ocsp_url, opt.ca_issuers_url, opt.crl_url};
  CA_TRY_STATUS(issuance::ValidateIssuer(inst->issuer_));
  inst->store_ = CA_TRY(CaStore::Open(opt.store_dir));
  status::StoreOptions so;
  so.path = opt.status_store_dir;
  inst->status_ = std::make_unique<status::StatusStore>(CA_TRY(status::StatusStore::Open(so)));
  CA_TRY_STATUS(inst->status_->RegisterIssuer(opt.issuer_name, inst->keys_.issuer_cert.get()));

  // CRL schedule state survives restarts through the stores.
  if (auto current = CA_TRY(inst->status_->CurrentCrl(opt.issuer_name)); current) {
    auto info = CA_TRY(status::InspectCrl(*current, inst->keys_.issuer_cert.get()));
    inst->crl_last_this_update_ = info.this_update;
  }
  for (const auto& rec : CA_TRY(inst->store_->RevokedCerts())) {
    status::Time at = ToTime(rec.revoked_at);
    if (!inst->crl_last_this_update_ || at >= *inst->crl_last_this_update_) {
      if (!inst->first_unpublished_revocation_ || at < *inst->first_unpublished_revocation_) {
        inst->first_unpublished_revocation_ = at;
      }
    }
  }
  CA_TRY_STATUS(inst->CompleteAllPending());
  log::Info("ca_instance_ready", {{"environment", env_name}, {"issuer", opt.issuer_name}});
  return inst;
}

CaInstance::~CaInstance() = default;

Status CaInstance::CompleteAllPending(int64_t min_age_seconds) {
  auto pending = CA_TRY(store_->PendingSerials());
  int64_t now = NowUnix();
  for (const auto& serial : pending) {
    if (min_age_seconds > 0) {
      auto rec = CA_TRY(store_->FindCert(serial));
      if (rec && now - rec->reserved_at < min_age_seconds) continue;
    }
    auto rec = Complete(serial, nullptr);
    if (!rec) {
      log::Error("recovery_failed", {{"serial", serial}, {"error", rec.error().ToString()}});
      return std::unexpected(rec.error());
    }
    log::Info("recovered_reservation", {{"serial", serial}, {"environment", engine_api::CaEnvironmentName(options_.environment)}});
  }
  return Ok();
}

Response CaInstance::Issue(const engine_api::IssueRequest& request, const policy::PolicySnapshot& snapshot) {
  std::string hash = HexEncode(Sha256(engine_api::RequestToJson(request).dump()));
  std::promise<Response> promise;
  {
    std::unique_lock lock(inflight_mu_);
    auto it = inflight_.find(request.request_id);
    if (it != inflight_.end()) {
      if (it->second.first != hash) {
        log::Warn("request_refused", {{"reason", "replayed request_id with different content"},
                                      {"request_id", request.request_id}});
        return Refuse(EngineErrorKind::kBadRequest, "request_id reused with different content");
      }
      auto fut = it->second.second;
      lock.unlock();
      return fut.get();
    }
    inflight_.emplace(request.request_id, std::pair{hash, promise.get_future().share()});
  }
  Response response = [&]() -> Response {
    auto found = store_->FindRequest(request.request_id);
    if (!found) return Refuse(EngineErrorKind::kInternal, found.error().ToString());
    if (!*found) return IssueFresh(request, hash, snapshot);
    if ((*found)->first != hash) {
      log::Warn("request_refused", {{"reason", "replayed request_id with different content"},
                                    {"request_id", request.request_id}});
      return Refuse(EngineErrorKind::kBadRequest, "request_id reused with different content");
    }
    auto rec = Complete((*found)->second, nullptr);
    if (!rec) return Refuse(EngineErrorKind::kUnavailable, rec.error().ToString());
    auto out = ToIssueResponse(*rec);
    if (!out) return Refuse(EngineErrorKind::kInternal, out.error().ToString());
    log::Info("issue_replayed", {{"request_id", request.request_id}, {"serial", rec->serial_hex}});
    return *out;
  }();
  promise.set_value(response);
  {
    std::lock_guard lock(inflight_mu_);
    inflight_.erase(request.request_id);
  }
  return response;
}

Response CaInstance::IssueFresh(const engine_api::IssueRequest& request, const std::string& hash,
                                const policy::PolicySnapshot& snapshot) {
  nlohmann::json log_fields = {{"request_id", request.request_id},
                               {"order", request.order_id},
                               {"account", request.acme_account_id},
                               {"external_account", request.external_account_kid},
                               {"profile", request.profile},
                               {"environment", engine_api::CaEnvironmentName(options_.environment)},
                               {"gateway_policy_version", request.policy_version},
                               {"policy_version", snapshot.version()}};
  auto refuse = [&](EngineErrorKind kind, std::string detail, std::string code = "", std::string name = "") {
    auto fields = log_fields;
    fields["result"] = engine_api::EngineErrorKindName(kind);
    fields["result_code"] = code;
    fields["name"] = name;
    fields["detail"] = detail;
    log::Warn("issue_refused", fields);
    return Refuse(kind, std::move(detail), std::move(code), std::move(name));
  };

  auto profile_id = policy::ParseProfile(request.profile);
  if (!profile_id) return refuse(EngineErrorKind::kBadRequest, "unknown profile '" + request.profile + "'");
  int64_t now = NowUnix();

  // (1) CA-2: the engine's own decision on its own snapshot, whatever the gateway concluded.
  std::vector<std::string> names;
  for (const auto& n : request.names) names.push_back(AsciiLower(n));
  policy::AccountFacts facts{request.acme_account_id, request.external_account_kid, *profile_id, false};
  policy::Decision decision = policy::Decide(snapshot, facts, names, *profile_id, now);
  if (!decision.ok()) {
    return refuse(EngineErrorKind::kPolicyDenied, decision.detail, std::string(policy::ResultCodeName(decision.code)),
                  decision.name);
  }
  auto profile_it = profiles_.find(*profile_id);
  if (profile_it == profiles_.end()) return refuse(EngineErrorKind::kBadRequest, "profile not configured");
  const issuance::Profile& profile = profile_it->second;

  // (2) CA-5: the CSR, its key and its names.
  auto csr = ossl::CsrFromDer(request.csr_der);
  if (!csr) return refuse(EngineErrorKind::kBadCsr, "CSR does not parse: " + csr.error().message);
  issuance::CsrCheckRequest check;
  check.csr = csr->get();
  check.names = names;
  check.ca_certificates = {keys_.issuer_cert.get(), keys_.ocsp_cert.get()};
  check.known_key = [this](std::span<const uint8_t> fp) { return store_->KnownKey(HexEncode(fp)); };
  auto accepted = issuance::CheckCsr(profile, check);
  if (!accepted) {
    if (accepted.error().code == ErrorCode::kInvalidArgument) {
      return refuse(EngineErrorKind::kBadCsr, accepted.error().message);
    }
    return refuse(EngineErrorKind::kInternal, accepted.error().ToString());
  }
  std::string key_fp = HexEncode(accepted->spki_sha256);

  auto account = snapshot.FindExternalAccount(request.external_account_kid);
  auto org = account ? snapshot.FindOrganization(account->organization_id) : std::nullopt;
  if (!org) {
    return refuse(EngineErrorKind::kPolicyDenied, "organization of the external account not found",
                  std::string(policy::ResultCodeName(policy::ResultCode::kOrganizationIsNotValid)));
  }

  for (int attempt = 0; attempt < 3; ++attempt) {
    // (3) the TBS, (4) linted as built.
    issuance::TbsRequest tbs_request;
    tbs_request.organization = {org->name, org->locality, org->country};
    tbs_request.names = names;
    tbs_request.public_key = accepted->public_key.get();
    tbs_request.serial = issuance::GenerateSerial();
    tbs_request.now = std::chrono::sys_seconds(std::chrono::seconds(now));
    auto tbs = issuance::BuildTbs(profile, issuer_, tbs_request);
    if (!tbs) {
      if (tbs.error().code == ErrorCode::kInvalidArgument) return refuse(EngineErrorKind::kBadRequest, tbs.error().message);
      return refuse(EngineErrorKind::kInternal, tbs.error().ToString());
    }
    auto linted = issuance::LintTbs(tbs->get(), profile, issuer_, tbs_request);
    if (!linted) {
      log::Error("lint_failed", {{"request_id", request.request_id}, {"error", linted.error().message}});
      return refuse(EngineErrorKind::kInternal, linted.error().message);
    }

    CertRecord rec;
    rec.serial_hex = issuance::SerialToHex(tbs_request.serial);
    rec.state = CertState::kReserved;
    rec.der = linted->der;
    rec.request_id = request.request_id;
    rec.order_id = request.order_id;
    rec.acme_account_id = request.acme_account_id;
    rec.external_account_kid = request.external_account_kid;
    rec.profile = request.profile;
    rec.names = names;
    rec.key_fingerprint = key_fp;
    rec.not_before = AsUnix(X509_get0_notBefore(tbs->get()));
    rec.not_after = AsUnix(X509_get0_notAfter(tbs->get()));
    rec.reserved_at = now;

    // (5) durability: serial, TBS and request recorded in one committed transaction before signing.
    Status reserved = store_->Write([&](lmdb::Txn& txn, const StoreDbs& d) -> Status {
      if (CA_TRY(txn.Get(d.requests, rec.request_id))) {
        return Fail(ErrorCode::kFailedPrecondition, "request_id already recorded");
      }
      if (CA_TRY(txn.Get(d.certs, rec.serial_hex))) return Fail(ErrorCode::kAlreadyExists, "serial collision");
      if (CA_TRY(txn.Get(d.key_fps, rec.key_fingerprint))) {
        return Fail(ErrorCode::kPermissionDenied, "the CSR's public key was already certified");
      }
      CA_TRY_STATUS(PutCert(txn, d, rec));
      CA_TRY_STATUS(txn.Put(d.pending, rec.serial_hex, ""));
      CA_TRY_STATUS(txn.Put(d.requests, rec.request_id,
                            nlohmann::json{{"hash", hash}, {"serial", rec.serial_hex}}.dump()));
      CA_TRY_STATUS(txn.Put(d.key_fps, rec.key_fingerprint, rec.serial_hex));
      CA_TRY_STATUS(txn.Put(d.by_account, AccountIndexKey('a', rec.acme_account_id, rec.serial_hex), ""));
      CA_TRY_STATUS(txn.Put(d.by_account, AccountIndexKey('e', rec.external_account_kid, rec.serial_hex), ""));
      return Ok();
    });
    if (!reserved) {
      switch (reserved.error().code) {
        case ErrorCode::kAlreadyExists: continue;  // a fresh serial
        case ErrorCode::kPermissionDenied: return refuse(EngineErrorKind::kBadCsr, reserved.error().message);
        case ErrorCode::kFailedPrecondition:
          return refuse(EngineErrorKind::kBadRequest, "request_id already used by another request");
        default: return refuse(EngineErrorKind::kUnavailable, reserved.error().ToString());
      }
    }
    Crash("after_reserve");
    // The object decoded from the linted bytes is the one signed; after the signature its TBS must
    // still be those bytes.
    auto lint_signed = [&](const X509* cert) { return issuance::CheckSignedAsLinted(cert, *linted); };
    auto done = Complete(rec.serial_hex, lint_signed, linted->certificate.get());
    if (!done) {
      auto fields = log_fields;
      fields["serial"] = rec.serial_hex;
      fields["error"] = done.error().ToString();
      log::Error("issue_sign_failed", fields);
      // The reservation stays pending: it is signed and recorded later (or on a retry of this
      // request_id), never handed out unsigned and never reused.
      return Refuse(EngineErrorKind::kUnavailable, "signing failed, retry later: " + done.error().message);
    }
    auto out = ToIssueResponse(*done);
    if (!out) return refuse(EngineErrorKind::kInternal, out.error().ToString());
    Crash("before_answer");
    auto fields = log_fields;
    fields["serial"] = rec.serial_hex;
    fields["result"] = "issued";
    fields["result_code"] = "OK";
    log::Info("issued", fields);
    return *out;
  }
  return refuse(EngineErrorKind::kInternal, "could not reserve a unique serial");
}

Result<CertRecord> CaInstance::Complete(const std::string& serial_hex,
                                        const std::function<Status(const X509*)>& lint_signed,
                                        X509* reserved_tbs) {
  auto found = CA_TRY(store_->FindCert(serial_hex));
  if (!found) return Fail(ErrorCode::kNotFound, "no reservation for serial " + serial_hex);
  CertRecord rec = std::move(*found);
  if (rec.state == CertState::kReserved) {
    ossl::X509Ptr parsed;
    if (reserved_tbs == nullptr) parsed = CA_TRY(ossl::CertFromDer(rec.der));
    X509* cert = reserved_tbs != nullptr ? reserved_tbs : parsed.get();
    ERR_clear_error();
    // RSA PKCS#1 v1.5 is deterministic: signing the recorded TBS again yields the same certificate.
    if (X509_sign(cert, keys_.issuer_key.get(), EVP_sha256()) <= 0) {
      return Fail(ErrorCode::kUnavailable, "HSM signature failed: " + ossl::DrainErrors());
    }
    if (X509_verify(cert, X509_get0_pubkey(keys_.issuer_cert.get())) != 1) {
      return ossl::CryptoFail("signed certificate does not verify under the intermediate");
    }
    if (lint_signed) CA_TRY_STATUS(lint_signed(cert));
    Crash("after_sign");
    Bytes signed_der = CA_TRY(ossl::CertToDer(cert));
    int64_t now = NowUnix();
    CertRecord updated;
    Status recorded = store_->Write([&](lmdb::Txn& txn, const StoreDbs& d) -> Status {
      auto cur = CA_TRY(GetCert(txn, d, serial_hex));
      if (!cur) return Fail(ErrorCode::kNotFound, "reservation vanished: " + serial_hex);
      if (cur->state == CertState::kIssued) {  // recorded meanwhile (recovery and retry raced)
        updated = std::move(*cur);
        return Ok();
      }
      cur->state = CertState::kIssued;
      cur->der = signed_der;
      cur->issued_at = now;
      CA_TRY_STATUS(PutCert(txn, d, *cur));
      CA_TRY(txn.Delete(d.pending, serial_hex));
      updated = std::move(*cur);
      return Ok();
    });
    CA_TRY_STATUS(recorded);
    rec = std::move(updated);
    Crash("after_record");
  }
  // The OCSP "good" response exists before the certificate is handed out.
  auto serial = CA_TRY(status::Serial::FromHex(rec.serial_hex));
  if (!CA_TRY(status_->Response(options_.issuer_name, serial))) CA_TRY_STATUS(PublishOcsp({rec}));
  return rec;
}

Result<engine_api::IssueResponse> CaInstance::ToIssueResponse(const CertRecord& record) const {
  engine_api::IssueResponse out;
  out.serial_hex = record.serial_hex;
  out.certificate_pem = CA_TRY(ossl::CertDerToPem(record.der));  // verified before it was recorded
  out.chain_pem = out.certificate_pem + keys_.chain_pem;
  out.not_before = record.not_before;
  out.not_after = record.not_after;
  return out;
}

Status CaInstance::PublishOcsp(const std::vector<CertRecord>& records) {
  if (records.empty()) return Ok();
  status::OcspSigner signer{keys_.ocsp_key.get(), keys_.ocsp_cert.get()};
  status::Time now = status::Now();
  std::vector<Bytes> ders;
  std::vector<status::OcspPublication> batch;
  ders.reserve(records.size());
  for (const auto& rec : records) {
    status::OcspCertState state;
    state.serial = CA_TRY(status::Serial::FromHex(rec.serial_hex));
    state.status = rec.revoked ? status::CertStatus::kRevoked : status::CertStatus::kGood;
    if (rec.revoked) {
      state.revocation_time = ToTime(rec.revoked_at);
      state.reason = CA_TRY(status::ReasonFromCode(rec.reason));
    }
    state.this_update = now;
    state.next_update = now + options_.freshness.ocsp_validity;
    ders.push_back(CA_TRY(status::BuildOcspResponse(keys_.issuer_cert.get(), signer, state)));
    batch.push_back(status::OcspPublication{ders.back(), ToTime(rec.not_after)});
  }
  return status_->PutOcspResponses(options_.issuer_name, batch);
}

Response CaInstance::Revoke(const engine_api::RevokeRequest& request) {
  int reason = static_cast<int>(request.reason);
  int64_t now = NowUnix();
  bool newly = false;
  CertRecord after;
  std::string serial_hex = request.serial_hex;
  if (serial_hex.size() % 2 == 1) serial_hex.insert(serial_hex.begin(), '0');
  Status s = store_->Write([&](lmdb::Txn& txn, const StoreDbs& d) -> Status {
    auto cur = CA_TRY(GetCert(txn, d, serial_hex));
    if (!cur || cur->state != CertState::kIssued) return Fail(ErrorCode::kNotFound, "unknown serial " + serial_hex);
    if (cur->revoked) {
      if (reason == static_cast<int>(engine_api::RevocationReason::kKeyCompromise) && cur->reason != reason) {
        if (!request.allow_key_compromise_upgrade) {
          return Fail(ErrorCode::kAlreadyExists, "already revoked; keyCompromise upgrade not allowed here");
        }
        cur->reason = reason;
        cur->revoked_by = request.actor;
        CA_TRY_STATUS(PutCert(txn, d, *cur));
      }
      after = std::move(*cur);
      return Ok();
    }
    cur->revoked = true;
    cur->revoked_at = now;
    cur->reason = reason;
    cur->revoked_by = request.actor;
    CA_TRY_STATUS(PutCert(txn, d, *cur));
    CA_TRY_STATUS(txn.Put(d.revoked, cur->serial_hex, ""));
    newly = true;
    after = std::move(*cur);
    return Ok();
  });
  nlohmann::json fields = {{"serial", serial_hex},
                           {"actor", request.actor},
                           {"reason", reason},
                           {"environment", engine_api::CaEnvironmentName(options_.environment)}};
  if (!s) {
    fields["error"] = s.error().message;
    log::Warn("revoke_refused", fields);
    if (s.error().code == ErrorCode::kNotFound) return Refuse(EngineErrorKind::kNotFound, s.error().message);
    if (s.error().code == ErrorCode::kAlreadyExists) return Refuse(EngineErrorKind::kAlreadyRevoked, s.error().message);
    return Refuse(EngineErrorKind::kUnavailable, s.error().ToString());
  }
  // REV-3: the revoked OCSP response is published before answering; the CRL follows.
  if (auto p = PublishOcsp({after}); !p) log::Error("ocsp_publish_failed", {{"serial", serial_hex}, {"error", p.error().ToString()}});
  {
    std::lock_guard lock(crl_mu_);
    status::Time at = ToTime(now);
    if (!first_unpublished_revocation_ || at < *first_unpublished_revocation_) first_unpublished_revocation_ = at;
  }
  fields["newly_revoked"] = newly;
  fields["account"] = after.acme_account_id;
  log::Info("revoked", fields);
  return engine_api::RevokeResponse{newly, after.revoked_at};
}

Result<std::vector<std::string>> CaInstance::RevokeSerials(const std::vector<std::string>& serials, int reason,
                                                           const std::string& actor, bool only_unexpired) {
  int64_t now = NowUnix();
  std::vector<CertRecord> revoked;
  Status committed = store_->Write([&](lmdb::Txn& txn, const StoreDbs& d) -> Status {
    revoked.clear();
    std::vector<CertRecord> updates;
    for (const auto& serial : serials) {
      auto cur = CA_TRY(GetCert(txn, d, serial));
      if (!cur || cur->revoked) continue;
      if (only_unexpired && cur->not_after < now) continue;
      cur->revoked = true;
      cur->revoked_at = now;
      cur->reason = reason;
      cur->revoked_by = actor;
      updates.push_back(std::move(*cur));
    }
    for (const auto& rec : updates) {
      CA_TRY_STATUS(PutCert(txn, d, rec));
      CA_TRY_STATUS(txn.Put(d.revoked, rec.serial_hex, ""));
    }
    revoked = std::move(updates);
    return Ok();
  });
  CA_TRY_STATUS(committed);
  // Reserved (not yet signed) certificates are revoked too: they are signed later as revoked.
  std::vector<CertRecord> issued;
  std::vector<std::string> out;
  for (auto& rec : revoked) {
    out.push_back(rec.serial_hex);
    if (rec.state == CertState::kIssued) issued.push_back(rec);
  }
  if (auto p = PublishOcsp(issued); !p) log::Error("ocsp_publish_failed", {{"error", p.error().ToString()}});
  if (!out.empty()) {
    std::lock_guard lock(crl_mu_);
    status::Time at = ToTime(now);
    if (!first_unpublished_revocation_ || at < *first_unpublished_revocation_) first_unpublished_revocation_ = at;
  }
  return out;
}

Response CaInstance::RevokeAll(const engine_api::RevokeAllForAccountRequest& request) {
  auto serials = request.acme_account_id.empty() ? store_->SerialsOf('e', request.external_account_kid)
                                                 : store_->SerialsOf('a', request.acme_account_id);
  if (!serials) return Refuse(EngineErrorKind::kInternal, serials.error().ToString());
  auto done = RevokeSerials(*serials, static_cast<int>(request.reason), request.actor, true);
  if (!done) return Refuse(EngineErrorKind::kUnavailable, done.error().ToString());
  log::Info("revoked_all", {{"account", request.acme_account_id},
                            {"external_account", request.external_account_kid},
                            {"actor", request.actor},
                            {"revoked_count", done->size()},
                            {"environment", engine_api::CaEnvironmentName(options_.environment)}});
  return engine_api::RevokeAllForAccountResponse{done->size()};
}

Response CaInstance::GetCertificate(const engine_api::GetCertificateRequest& request) {
  std::string serial_hex = request.serial_hex;
  if (serial_hex.size() % 2 == 1) serial_hex.insert(serial_hex.begin(), '0');
  auto found = store_->FindCert(serial_hex);
  if (!found) return Refuse(EngineErrorKind::kInternal, found.error().ToString());
  if (!*found || (*found)->state != CertState::kIssued) {
    return Refuse(EngineErrorKind::kNotFound, "unknown serial " + serial_hex);
  }
  const CertRecord& rec = **found;
  auto issued = ToIssueResponse(rec);
  if (!issued) return Refuse(EngineErrorKind::kInternal, issued.error().ToString());
  engine_api::CertificateRecord out;
  out.serial_hex = rec.serial_hex;
  out.certificate_pem = issued->certificate_pem;
  out.chain_pem = issued->chain_pem;
  out.acme_account_id = rec.acme_account_id;
  out.external_account_kid = rec.external_account_kid;
  out.profile = rec.profile;
  out.not_before = rec.not_before;
  out.not_after = rec.not_after;
  out.revoked = rec.revoked;
  out.revoked_at = rec.revoked_at;
  out.reason = static_cast<engine_api::RevocationReason>(rec.reason);
  return out;
}

Status CaInstance::ApplyMassRevocations(const policy::PolicySnapshot& snapshot) {
  uint64_t applied = CA_TRY(store_->AppliedMassRevocationSeq());
  for (const auto& m : snapshot.MassRevocations(applied)) {
    auto serials = m.acme_account_id.empty() ? CA_TRY(store_->SerialsOf('e', m.external_account_kid))
                                             : CA_TRY(store_->SerialsOf('a', m.acme_account_id));
    auto revoked = CA_TRY(RevokeSerials(serials, m.reason, "ra:" + m.actor, true));
    nlohmann::json record = {{"seq", m.seq},
                             {"acme_account_id", m.acme_account_id},
                             {"external_account_kid", m.external_account_kid},
                             {"reason", m.reason},
                             {"actor", m.actor},
                             {"policy_version", m.policy_version},
                             {"applied_at", NowUnix()},
                             {"revoked", revoked}};
    Status noted = store_->Write([&](lmdb::Txn& txn, const StoreDbs& d) -> Status {
      CA_TRY_STATUS(txn.Put(d.meta, "mass_revocation:" + std::to_string(m.seq), record.dump()));
      return txn.Put(d.meta, "mass_revocation_seq", std::to_string(m.seq));
    });
    CA_TRY_STATUS(noted);
    log::Info("mass_revocation_applied", {{"seq", m.seq},
                                          {"account", m.acme_account_id},
                                          {"external_account", m.external_account_kid},
                                          {"revoked_count", revoked.size()},
                                          {"environment", engine_api::CaEnvironmentName(options_.environment)}});
  }
  return Ok();
}

Status CaInstance::PublishCrl() {
  status::Time now = status::Now();
  auto revoked = CA_TRY(store_->RevokedCerts());
  std::vector<pki::CrlEntry> entries;
  status::NotAfterBySerial not_after;
  for (const auto& rec : revoked) {
    if (rec.state != CertState::kIssued) continue;
    pki::CrlEntry e;
    status::Serial serial = CA_TRY(status::Serial::FromHex(rec.serial_hex));
    e.revocation_time = ToTime(rec.revoked_at);
    e.reason = static_cast<int>(CA_TRY(status::ReasonFromCode(rec.reason)));
    not_after[serial.Hex()] = ToTime(rec.not_after);
    e.serial = std::move(serial.magnitude);
    entries.push_back(std::move(e));
  }
  pki::CrlRequest req;
  req.issuer = keys_.issuer_cert.get();
  req.key = keys_.issuer_key.get();
  req.number = CA_TRY(status_->ReserveCrlNumber(options_.issuer_name));
  req.this_update = now;
  req.next_update = now + options_.freshness.crl_validity;
  req.entries = entries;
  Bytes der = CA_TRY(pki::BuildCrl(req));
  auto info = CA_TRY(status_->PublishCrl(options_.issuer_name, der, not_after));
  log::Info("crl_published", {{"issuer", options_.issuer_name},
                              {"number", info.number},
                              {"entries", info.entries},
                              {"environment", engine_api::CaEnvironmentName(options_.environment)}});
  return Ok();
}

Status CaInstance::RunStatusJobs() {
  status::Time now = status::Now();
  // CRL: daily, and within crl_revocation_delay (≤ 1 minute) of a revocation it does not list.
  bool crl_due = false;
  std::optional<status::Time> pending_revocation;
  {
    std::lock_guard lock(crl_mu_);
    status::CrlState state{crl_last_this_update_, first_unpublished_revocation_};
    crl_due = status::CrlDue(state, now, options_.freshness);
    pending_revocation = first_unpublished_revocation_;
  }
  if (crl_due) {
    CA_TRY_STATUS(PublishCrl());
    std::lock_guard lock(crl_mu_);
    crl_last_this_update_ = now;
    // A revocation recorded while this CRL was being built is in it only if it was committed
    // before RevokedCerts() read the store: keep it due if it is newer than `now`.
    if (first_unpublished_revocation_ && first_unpublished_revocation_ <= now) first_unpublished_revocation_.reset();
  }

  // OCSP: responses missing or past half-life are re-signed.
  if (next_ocsp_scan_ && now < *next_ocsp_scan_) return Ok();
  std::vector<CertRecord> records;
  CA_TRY_STATUS(store_->ForEachIssued([&](const CertRecord& rec) { records.push_back(rec); }));
  std::vector<status::ResponseState> states;
  states.reserve(records.size());
  {
    auto txn = CA_TRY(lmdb::Txn::BeginRead(status_->env()));
    for (const auto& rec : records) {
      status::ResponseState st;
      st.serial = CA_TRY(status::Serial::FromHex(rec.serial_hex));
      st.cert_not_after = ToTime(rec.not_after);
      st.cert_revoked = rec.revoked;
      auto stored = CA_TRY(status::FindResponse(txn.get(), status_->dbs(), options_.issuer_name, st.serial.magnitude));
      if (stored) {
        st.response_this_update = stored->this_update;
        st.response_next_update = stored->next_update;
        st.response_says_revoked = stored->status == status::CertStatus::kRevoked;
      }
      states.push_back(std::move(st));
    }
  }
  auto schedule = status::ScheduleOcsp(states, now, options_.freshness);
  std::vector<CertRecord> resign;
  for (const auto& item : schedule.now) resign.push_back(records[item.index]);
  for (size_t i = 0; i < resign.size(); i += 256) {
    std::vector<CertRecord> chunk(resign.begin() + static_cast<ptrdiff_t>(i),
                                  resign.begin() + static_cast<ptrdiff_t>(std::min(resign.size(), i + 256)));
    CA_TRY_STATUS(PublishOcsp(chunk));
  }
  if (!resign.empty()) log::Info("ocsp_resigned", {{"count", resign.size()}, {"issuer", options_.issuer_name}});
  status::Time next = now + std::chrono::minutes(1);
  if (schedule.next_wake_up && *schedule.next_wake_up < next) next = *schedule.next_wake_up;
  next_ocsp_scan_ = next;
  return Ok();
}

}  // namespace ca::engine
