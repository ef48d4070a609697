// CaInstance issuance: policy re-check, CSR checks, TBS, lint, durable reservation, HSM signature,
// durable record, OCSP "good" published, answer (the order in ca_instance.h); and the completion
// of reservations left pending by a crash or an HSM fault.
#include <openssl/err.h>

#include "common/encoding.h"
#include "common/log.h"
#include "engine/ca_instance.h"
#include "engine/crl_shards.h"
#include "engine/instance_util.h"
#include "engine/issuance_key.h"
#include "profiles/issuance/csr_check.h"
#include "profiles/issuance/dns_names.h"
#include "profiles/issuance/lint.h"
#include "pki/serial.h"

namespace ca::engine {
namespace {

using engine::api::EngineErrorKind;
using engine::api::Response;
using instance_util::NowUnix;
using instance_util::Refuse;

int64_t AsUnix(const ASN1_TIME* t) {
  auto parsed = pki::FromAsn1Time(t);
  return parsed ? parsed->time_since_epoch().count() : 0;
}

// The reservation recorded before signing: the linted TBS and what the indexes need.
CertRecord ReservationRecord(const engine::api::IssueRequest& request, const profiles::issuance::Profile& profile,
                             const std::vector<std::string>& names, std::string key_fingerprint,
                             std::string serial_hex, const X509* tbs, const ossl::Bytes& tbs_der, int64_t now) {
  CertRecord rec;
  rec.ocsp = profile.revocation.ocsp;  // no OCSP response is ever signed for it when false
  rec.serial_hex = std::move(serial_hex);
  rec.state = CertState::kReserved;
  rec.der = tbs_der;
  rec.request_id = request.request_id;
  rec.order_id = request.order_id;
  rec.acme_account_id = request.acme_account_id;
  rec.external_account_kid = request.external_account_kid;
  rec.profile = request.profile;
  rec.names = names;
  rec.key_fingerprint = std::move(key_fingerprint);
  rec.not_before = AsUnix(X509_get0_notBefore(tbs));
  rec.not_after = AsUnix(X509_get0_notAfter(tbs));
  rec.reserved_at = now;
  return rec;
}

// A signature refused because this node does not hold the lease (CheckSigningLease): its answer
// keeps the "engine standby:" detail, so that the gateway sends the request to the other engine.
bool IsStandbyRefusal(const Error& error) {
  return error.code == ErrorCode::kUnavailable &&
         error.message.starts_with(engine::api::kStandbyDetailPrefix);
}

}  // namespace

Status CaInstance::CompleteAllPending(int64_t min_age_seconds) {
  auto pending = CA_TRY(store_->PendingSerials());
  int64_t now = NowUnix();
  for (const auto& serial : pending) {
    if (min_age_seconds > 0) {
      auto rec = CA_TRY(store_->FindCert(serial));
      if (rec && now - rec->reserved_at < min_age_seconds) continue;
    }
    auto rec = Complete(serial, nullptr, nullptr, kByRecovery);
    if (!rec) {
      log::Error("recovery_failed", {{"serial", serial}, {"error", rec.error().ToString()}});
      return std::unexpected(rec.error());
    }
    log::Info("recovered_reservation", {{"serial", serial}, {"environment", engine::api::CaEnvironmentName(options_.environment)}});
  }
  return AuditUnaudited();  // certificates signed but not yet audited (crash, full audit volume)
}

Response CaInstance::Issue(const engine::api::IssueRequest& request, const profiles::policy::PolicySnapshot& snapshot) {
  std::string hash = HexEncode(Sha256(engine::api::RequestToJson(request).dump()));
  // Keyed by order (issuance_key.h): a retry of the same order shares the first one's outcome.
  const IssuanceKey key = IssuanceKeyOf(request.order_id, request.request_id);
  auto refuse_replay = [&] {
    log::Warn("request_refused", {{"reason", "replayed request_id with different content"},
                                  {"request_id", request.request_id}});
    return Refuse(EngineErrorKind::kBadRequest, "request_id reused with different content");
  };
  std::promise<Response> promise;
  {
    std::unique_lock lock(inflight_mu_);
    auto it = inflight_.find(key.key);
    if (it != inflight_.end()) {
      if (!key.per_order && it->second.first != hash) return refuse_replay();
      auto fut = it->second.second;
      lock.unlock();
      return fut.get();
    }
    inflight_.emplace(key.key, std::pair{hash, promise.get_future().share()});
  }
  Response response = [&]() -> Response {
    auto found = store_->FindRequest(key.key);
    if (!found) return Refuse(EngineErrorKind::kInternal, found.error().ToString());
    if (!*found && key.per_order) {
      // The request_id alone: records from before the per-order key, and a request_id reused
      // by another order (refused below).
      found = store_->FindRequest(request.request_id);
      if (!found) return Refuse(EngineErrorKind::kInternal, found.error().ToString());
    }
    if (!*found) return IssueFresh(request, hash, snapshot);
    if (!key.per_order && (*found)->first != hash) return refuse_replay();
    auto rec = Complete((*found)->second, nullptr, nullptr, kByRetry);
    if (!rec && IsStandbyRefusal(rec.error()))
      return Refuse(EngineErrorKind::kUnavailable, rec.error().message, "ACME_CA_ERROR");
    if (!rec) return Refuse(EngineErrorKind::kUnavailable, rec.error().ToString());
    if (key.per_order && rec->order_id != request.order_id) return refuse_replay();
    auto out = ToIssueResponse(*rec);
    if (!out) return Refuse(EngineErrorKind::kInternal, out.error().ToString());
    log::Info("issue_replayed", {{"request_id", request.request_id},
                                 {"order", request.order_id},
                                 {"same_content", (*found)->first == hash},
                                 {"serial", rec->serial_hex}});
    return *out;
  }();
  promise.set_value(response);
  {
    std::lock_guard lock(inflight_mu_);
    inflight_.erase(key.key);
  }
  return response;
}

std::expected<CaInstance::AdmittedIssue, CaInstance::IssueRefusal> CaInstance::Admit(
    const engine::api::IssueRequest& request, const profiles::policy::PolicySnapshot& snapshot, int64_t now) {
  auto refuse = [](EngineErrorKind kind, std::string detail, std::string code = "", std::string name = "") {
    return std::unexpected(IssueRefusal{kind, std::move(detail), std::move(code), std::move(name)});
  };
  auto profile_id = profiles::policy::ParseProfile(request.profile);
  if (!profile_id) return refuse(EngineErrorKind::kBadRequest, "unknown profile '" + request.profile + "'");

  // (1) CA-2: the engine's own decision on its own snapshot, whatever the gateway concluded.
  AdmittedIssue out;
  for (const auto& n : request.names) out.names.push_back(AsciiLower(n));
  profiles::policy::AccountFacts facts{request.acme_account_id, request.external_account_kid,
                                       *profile_id, false, options_.staging_grant_required};
  profiles::policy::Decision decision = profiles::policy::Decide(snapshot, facts, out.names, *profile_id, now);
  if (!decision.ok()) {
    return refuse(EngineErrorKind::kPolicyDenied, decision.detail, std::string(profiles::policy::ResultCodeName(decision.code)),
                  decision.name);
  }
  auto profile_it = profiles_.find(*profile_id);
  if (profile_it == profiles_.end()) return refuse(EngineErrorKind::kBadRequest, "profile not configured");
  out.profile = &profile_it->second;

  // (2) CA-5: the CSR, its key and its names.
  profiles::issuance::CsrCheckRequest check;
  check.csr_der = request.csr_der;  // decoded once, by pki::ReadCsr
  check.names = out.names;
  check.ca_certificates = {keys_.issuer_cert.get(), keys_.ocsp_cert.get()};
  check.known_key = [this](std::span<const uint8_t> fp) { return store_->KnownKey(HexEncode(fp)); };
  auto accepted = profiles::issuance::CheckCsr(*out.profile, check);
  if (!accepted) {
    if (accepted.error().code == ErrorCode::kInvalidArgument) {
      return refuse(EngineErrorKind::kBadCsr, accepted.error().message);
    }
    return refuse(EngineErrorKind::kInternal, accepted.error().ToString());
  }
  out.csr = std::move(*accepted);

  auto account = snapshot.FindExternalAccount(request.external_account_kid);
  auto org = account ? snapshot.FindOrganization(account->organization_id) : std::nullopt;
  if (!org) {
    return refuse(EngineErrorKind::kPolicyDenied, "organization of the external account not found",
                  std::string(profiles::policy::ResultCodeName(profiles::policy::ResultCode::kOrganizationIsNotValid)));
  }
  out.org = std::move(*org);
  return out;
}

PendingWrite CaInstance::SubmitReservation(const CertRecord& rec, const std::string& hash) {
  const IssuanceKey key = IssuanceKeyOf(rec.order_id, rec.request_id);
  return store_->Submit([&rec, &hash, key](kv::Txn& txn, const StoreDbs& d) -> Status {
    if (CA_TRY(txn.Get(d.requests, key.key)) || CA_TRY(txn.Get(d.requests, rec.request_id))) {
      return Fail(ErrorCode::kFailedPrecondition, "order or request_id already recorded");
    }
    if (CA_TRY(txn.Get(d.certs, rec.serial_hex)))
      return Fail(ErrorCode::kAlreadyExists, "serial collision");
    if (CA_TRY(txn.Get(d.key_fps, rec.key_fingerprint))) {
      return Fail(ErrorCode::kPermissionDenied, "the CSR's public key was already certified");
    }
    CA_TRY_STATUS(PutCert(txn, d, rec));
    CA_TRY_STATUS(txn.Put(d.pending, rec.serial_hex, ""));
    // Under the order (the idempotency key) and under the request_id (so that a request_id
    // reused by another order is recognised and refused).
    const std::string entry = nlohmann::json{{"hash", hash}, {"serial", rec.serial_hex}}.dump();
    CA_TRY_STATUS(txn.Put(d.requests, rec.request_id, entry));
    if (key.key != rec.request_id) CA_TRY_STATUS(txn.Put(d.requests, key.key, entry));
    CA_TRY_STATUS(txn.Put(d.key_fps, rec.key_fingerprint, rec.serial_hex));
    CA_TRY_STATUS(txn.Put(d.by_account, AccountIndexKey('a', rec.acme_account_id, rec.serial_hex), ""));
    CA_TRY_STATUS(txn.Put(d.by_account, AccountIndexKey('e', rec.external_account_kid, rec.serial_hex), ""));
    return Ok();
  });
}

Status CaInstance::CancelReservation(const CertRecord& rec) {
  const IssuanceKey key = IssuanceKeyOf(rec.order_id, rec.request_id);
  return store_->Write([&rec, key](kv::Txn& txn, const StoreDbs& d) -> Status {
    auto cur = CA_TRY(GetCert(txn, d, rec.serial_hex));
    if (!cur || cur->state != CertState::kReserved || cur->request_id != rec.request_id)
      return Ok();
    CA_TRY(txn.Delete(d.certs, rec.serial_hex));
    CA_TRY(txn.Delete(d.pending, rec.serial_hex));
    CA_TRY(txn.Delete(d.requests, rec.request_id));
    if (key.key != rec.request_id) CA_TRY(txn.Delete(d.requests, key.key));
    CA_TRY(txn.Delete(d.key_fps, rec.key_fingerprint));
    CA_TRY(txn.Delete(d.by_account, AccountIndexKey('a', rec.acme_account_id, rec.serial_hex)));
    CA_TRY(txn.Delete(d.by_account, AccountIndexKey('e', rec.external_account_kid, rec.serial_hex)));
    return Ok();
  });
}

Response CaInstance::IssueFresh(const engine::api::IssueRequest& request, const std::string& hash,
                                const profiles::policy::PolicySnapshot& snapshot) {
  nlohmann::json log_fields = {{"request_id", request.request_id},
                               {"order", request.order_id},
                               {"account", request.acme_account_id},
                               {"external_account", request.external_account_kid},
                               {"profile", request.profile},
                               {"environment", engine::api::CaEnvironmentName(options_.environment)},
                               {"gateway_policy_version", request.policy_version},
                               {"policy_version", snapshot.version()}};
  auto refuse = [&](EngineErrorKind kind, std::string detail, std::string code = "", std::string name = "") {
    auto fields = log_fields;
    fields["result"] = engine::api::EngineErrorKindName(kind);
    fields["result_code"] = code;
    fields["name"] = name;
    fields["detail"] = detail;
    log::Warn("issue_refused", fields);
    return Refuse(kind, std::move(detail), std::move(code), std::move(name));
  };

  int64_t now = NowUnix();
  auto admitted = Admit(request, snapshot, now);
  if (!admitted) {
    IssueRefusal& r = admitted.error();
    return refuse(r.kind, std::move(r.detail), std::move(r.result_code), std::move(r.name));
  }
  const profiles::issuance::Profile& profile = *admitted->profile;
  const std::vector<std::string>& names = admitted->names;
  const profiles::policy::Organization& org = admitted->org;

  for (int attempt = 0; attempt < 3; ++attempt) {
    // (3) the TBS, (4) linted as built.
    profiles::issuance::TbsRequest tbs_request;
    tbs_request.organization = {org.name, org.locality, org.country};
    tbs_request.names = names;
    tbs_request.public_key = admitted->csr.public_key.get();
    tbs_request.public_key_info = admitted->csr.public_key_info();
    tbs_request.serial = pki::Serial::Generate();
    tbs_request.now = std::chrono::sys_seconds(std::chrono::seconds(now));
    // CRL shards: the certificate's CRLDP names its shard (checked at Open: the URL is valid). A
    // profile without CRL (short-lived) names none, so no shard is promised to list it; the full
    // CRL still does once it is revoked.
    std::optional<uint32_t> crl_shard;
    if (profile.revocation.crl) crl_shard = CrlShardOf(tbs_request.serial, options_.crl_shards);
    if (crl_shard) {
      auto url = crl_ocsp::CrlScopeUrl(options_.crl_url, crl_ocsp::CrlScope::Shard(*crl_shard));
      if (!url) return refuse(EngineErrorKind::kInternal, url.error().ToString());
      tbs_request.crl_url = std::move(*url);
    }
    auto tbs = profiles::issuance::BuildTbs(profile, issuer_, tbs_request);
    if (!tbs) {
      if (tbs.error().code == ErrorCode::kInvalidArgument) return refuse(EngineErrorKind::kBadRequest, tbs.error().message);
      return refuse(EngineErrorKind::kInternal, tbs.error().ToString());
    }
    auto linted = profiles::issuance::LintTbs(tbs->get(), profile, issuer_, tbs_request);
    if (!linted) {
      log::Error("lint_failed", {{"request_id", request.request_id}, {"error", linted.error().message}});
      return refuse(EngineErrorKind::kInternal, linted.error().message);
    }

    CertRecord rec = ReservationRecord(request, profile, names, HexEncode(admitted->csr.spki_sha256),
                                       tbs_request.serial.Hex(), tbs->get(), linted->der, now);
    rec.crl_shard = crl_shard;

    // (5) durability: serial, TBS and request recorded in one committed transaction, and the
    // durable sign intent in the audit trail, both before signing. The two fsyncs overlap: the
    // reservation commits on the store's committer while this thread appends the intent.
    PendingWrite reservation = SubmitReservation(rec, hash);
    Status intent = AuditSignIntent(rec, kByRequest);
    Status reserved = reservation.Wait();
    if (!intent) {
      // Nothing is signed without its intent: the reservation is withdrawn (it is not signed,
      // and this refusal leaves the store as it was).
      if (reserved) {
        if (Status c = CancelReservation(rec); !c)
          log::Error("reservation_cancel_failed", {{"serial", rec.serial_hex}, {"error", c.error().ToString()}});
      }
      return refuse(EngineErrorKind::kUnavailable, intent.error().message, "ACME_CA_ERROR");
    }
    if (!reserved) {
      switch (reserved.error().code) {
        case ErrorCode::kAlreadyExists: continue;  // a fresh serial
        case ErrorCode::kPermissionDenied: return refuse(EngineErrorKind::kBadCsr, reserved.error().message);
        case ErrorCode::kFailedPrecondition:
          return refuse(EngineErrorKind::kBadRequest, "order or request_id already used by another request");
        default: return refuse(EngineErrorKind::kUnavailable, reserved.error().ToString());
      }
    }
    Crash("after_reserve");
    // The object decoded from the linted bytes is the one signed; after the signature its TBS must
    // still be those bytes.
    auto lint_signed = [&](const X509* cert) { return profiles::issuance::CheckSignedAsLinted(cert, *linted); };
    auto done = Complete(rec.serial_hex, lint_signed, linted->certificate.get(), kByRequest);
    if (!done) {
      auto fields = log_fields;
      fields["serial"] = rec.serial_hex;
      fields["error"] = done.error().ToString();
      log::Error("issue_sign_failed", fields);
      // The reservation stays pending: it is signed and recorded later (or on a retry of this
      // request_id), never handed out unsigned and never reused. A standby's refusal keeps its
      // "engine standby:" detail: the gateway retries on the other engine, which completes it.
      std::string detail = done.error().message;
      if (!IsStandbyRefusal(done.error())) detail = "not issued, retry later: " + detail;
      return Refuse(EngineErrorKind::kUnavailable, std::move(detail), "ACME_CA_ERROR");
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
                                        X509* reserved_tbs, std::string_view by) {
  auto found = CA_TRY(store_->FindCert(serial_hex));
  if (!found) return Fail(ErrorCode::kNotFound, "no reservation for serial " + serial_hex);
  CertRecord rec = std::move(*found);
  bool ocsp_published = false;
  if (rec.state == CertState::kReserved) {
    if (by != kByRequest) CA_TRY_STATUS(AuditSignIntent(rec, by));  // the request wrote its own
    auto marker = CA_TRY(AuditMarker(serial_hex));
    ossl::X509Ptr parsed;
    if (reserved_tbs == nullptr) parsed = CA_TRY(ossl::CertFromDer(rec.der));
    X509* cert = reserved_tbs != nullptr ? reserved_tbs : parsed.get();
    // Engine pair: a reservation refused here (lease lost) stays pending, durable and fenced; the
    // lease's next holder completes it (TakeOver).
    CA_TRY_STATUS(CheckSigningLease());
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
    PendingWrite recorded = store_->Submit([&](kv::Txn& txn, const StoreDbs& d) -> Status {
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
      if (!marker.first.empty()) CA_TRY_STATUS(txn.Put(d.meta, marker.first, marker.second));
      updated = std::move(*cur);
      return Ok();
    });
    // The OCSP "good" response is signed and stored while the record commits (its own store, its
    // own fsync). A response stored for a certificate whose record then fails is harmless: the
    // reservation stays pending and is completed as the same certificate.
    CertRecord signed_rec = rec;
    signed_rec.state = CertState::kIssued;
    signed_rec.der = signed_der;
    Status ocsp = PublishOcsp({signed_rec});
    CA_TRY_STATUS(recorded.Wait());
    rec = std::move(updated);
    Crash("after_record");
    CA_TRY_STATUS(ocsp);
    ocsp_published = true;
  }
  CA_TRY_STATUS(EnsureIssuedAudited(rec, by));  // nothing is answered before its issued entry
  // The OCSP "good" response exists before the certificate is handed out (a profile without
  // OCSP has none).
  if (!ocsp_published && rec.ocsp) {
    auto serial = CA_TRY(pki::Serial::FromHex(rec.serial_hex));
    if (!CA_TRY(status_->Response(options_.issuer_name, serial))) CA_TRY_STATUS(PublishOcsp({rec}));
  }
  return rec;
}

Result<engine::api::IssueResponse> CaInstance::ToIssueResponse(const CertRecord& record) const {
  engine::api::IssueResponse out;
  out.serial_hex = record.serial_hex;
  out.certificate_pem = CA_TRY(ossl::CertDerToPem(record.der));  // verified before it was recorded
  out.chain_pem = out.certificate_pem + keys_.chain_pem;
  out.not_before = record.not_before;
  out.not_after = record.not_after;
  return out;
}

}  // namespace ca::engine
