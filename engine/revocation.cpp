// CaInstance revocation: one certificate (revokeCert, the RA), every certificate of an account
// (RevokeAll) and the policy store's mass revocations. The revoked OCSP response is published
// before answering; the CRL follows through the status jobs.
#include "common/log.h"
#include "engine/ca_instance.h"
#include "engine/instance_util.h"

namespace ca::engine {
namespace {

using engine::api::EngineErrorKind;
using engine::api::Response;
using instance_util::NowUnix;
using instance_util::Refuse;

}  // namespace

Response CaInstance::Revoke(const engine::api::RevokeRequest& request) {
  int reason = static_cast<int>(request.reason);
  int64_t now = NowUnix();
  bool newly = false;
  CertRecord after;
  std::string serial_hex = request.serial_hex;
  if (serial_hex.size() % 2 == 1) serial_hex.insert(serial_hex.begin(), '0');
  Status s = store_->Write([&](kv::Txn& txn, const StoreDbs& d) -> Status {
    auto cur = CA_TRY(GetCert(txn, d, serial_hex));
    if (!cur || cur->state != CertState::kIssued)
      return Fail(ErrorCode::kNotFound, "unknown serial " + serial_hex);
    if (cur->revoked) {
      if (reason == static_cast<int>(pki::RevocationReason::kKeyCompromise) && cur->reason != reason) {
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
                           {"environment", engine::api::CaEnvironmentName(options_.environment)}};
  if (!s) {
    fields["error"] = s.error().message;
    log::Warn("revoke_refused", fields);
    if (s.error().code == ErrorCode::kNotFound) return Refuse(EngineErrorKind::kNotFound, s.error().message);
    if (s.error().code == ErrorCode::kAlreadyExists) return Refuse(EngineErrorKind::kAlreadyRevoked, s.error().message);
    return Refuse(EngineErrorKind::kUnavailable, s.error().ToString());
  }
  // REV-3: the revoked OCSP response is published before answering; the CRL follows.
  if (auto p = PublishOcsp({after}); !p) log::Error("ocsp_publish_failed", {{"serial", serial_hex}, {"error", p.error().ToString()}});
  NoteRevocation(now);
  fields["newly_revoked"] = newly;
  fields["account"] = after.acme_account_id;
  log::Info("revoked", fields);
  return engine::api::RevokeResponse{newly, after.revoked_at};
}

Result<std::vector<std::string>> CaInstance::RevokeSerials(const std::vector<std::string>& serials, int reason,
                                                           const std::string& actor, bool only_unexpired) {
  int64_t now = NowUnix();
  std::vector<CertRecord> revoked;
  Status committed = store_->Write([&](kv::Txn& txn, const StoreDbs& d) -> Status {
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
  if (!out.empty()) NoteRevocation(now);
  return out;
}

Response CaInstance::RevokeAll(const engine::api::RevokeAllForAccountRequest& request) {
  auto serials = request.acme_account_id.empty() ? store_->SerialsOf('e', request.external_account_kid)
                                                 : store_->SerialsOf('a', request.acme_account_id);
  if (!serials) return Refuse(EngineErrorKind::kInternal, serials.error().ToString());
  auto done = RevokeSerials(*serials, static_cast<int>(request.reason), request.actor, true);
  if (!done) return Refuse(EngineErrorKind::kUnavailable, done.error().ToString());
  log::Info("revoked_all", {{"account", request.acme_account_id},
                            {"external_account", request.external_account_kid},
                            {"actor", request.actor},
                            {"revoked_count", done->size()},
                            {"environment", engine::api::CaEnvironmentName(options_.environment)}});
  return engine::api::RevokeAllForAccountResponse{done->size()};
}

Status CaInstance::ApplyMassRevocations(const profiles::policy::PolicySnapshot& snapshot) {
  uint64_t applied = CA_TRY(store_->AppliedMassRevocationSeq());
  for (const auto& m : snapshot.MassRevocations(applied)) {
    // One certificate (ca-ra cert revoke), one ACME account, or the whole external account.
    auto serials = !m.serial_hex.empty() ? std::vector<std::string>{m.serial_hex}
                   : m.acme_account_id.empty()
                       ? CA_TRY(store_->SerialsOf('e', m.external_account_kid))
                       : CA_TRY(store_->SerialsOf('a', m.acme_account_id));
    auto revoked = CA_TRY(RevokeSerials(serials, m.reason, "ra:" + m.actor, true));
    nlohmann::json record = {{"seq", m.seq},
                             {"serial_hex", m.serial_hex},
                             {"acme_account_id", m.acme_account_id},
                             {"external_account_kid", m.external_account_kid},
                             {"reason", m.reason},
                             {"actor", m.actor},
                             {"policy_version", m.policy_version},
                             {"applied_at", NowUnix()},
                             {"revoked", revoked}};
    Status noted = store_->Write([&](kv::Txn& txn, const StoreDbs& d) -> Status {
      CA_TRY_STATUS(txn.Put(d.meta, "mass_revocation:" + std::to_string(m.seq), record.dump()));
      return txn.Put(d.meta, "mass_revocation_seq", std::to_string(m.seq));
    });
    CA_TRY_STATUS(noted);
    log::Info("mass_revocation_applied", {{"seq", m.seq},
                                          {"account", m.acme_account_id},
                                          {"external_account", m.external_account_kid},
                                          {"revoked_count", revoked.size()},
                                          {"environment", engine::api::CaEnvironmentName(options_.environment)}});
  }
  return Ok();
}

}  // namespace ca::engine
