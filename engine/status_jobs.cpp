// CaInstance status jobs: OCSP responses signed (at issuance, at revocation, and re-signed near
// half-life) and the CRL signed when due (daily, and soon after a revocation it does not list).
#include <algorithm>

#include "common/encoding.h"
#include "common/log.h"
#include "pki/crl_builder.h"
#include "crl_ocsp/ocsp_response.h"
#include "engine/ca_instance.h"
#include "engine/instance_util.h"

namespace ca::engine {
namespace {


}  // namespace

// The CRL schedule survives restarts through the stores: the current CRL's thisUpdate, and the
// oldest revocation recorded since.
Status CaInstance::LoadCrlSchedule() {
  std::lock_guard lock(crl_mu_);
  if (auto current = CA_TRY(status_->CurrentCrl(options_.issuer_name)); current) {
    auto info = CA_TRY(crl_ocsp::InspectCrl(*current, keys_.issuer_cert.get()));
    crl_last_this_update_ = info.this_update;
  }
  for (const auto& rec : CA_TRY(store_->RevokedCerts())) {
    pki::Time at = pki::FromUnix(rec.revoked_at);
    if (!crl_last_this_update_ || at >= *crl_last_this_update_) NoteRevocationLocked(at);
  }
  return Ok();
}

void CaInstance::NoteRevocation(int64_t revoked_at) {
  std::lock_guard lock(crl_mu_);
  NoteRevocationLocked(pki::FromUnix(revoked_at));
}

void CaInstance::NoteRevocationLocked(pki::Time at) {
  if (!first_unpublished_revocation_ || at < *first_unpublished_revocation_) first_unpublished_revocation_ = at;
}

Status CaInstance::PublishOcsp(const std::vector<CertRecord>& records) {
  if (records.empty()) return Ok();
  crl_ocsp::OcspSigner signer{keys_.ocsp_key.get(), keys_.ocsp_cert.get()};
  pki::Time now = pki::Now();
  std::vector<Bytes> ders;
  std::vector<crl_ocsp::OcspPublication> batch;
  ders.reserve(records.size());
  for (const auto& rec : records) {
    crl_ocsp::OcspCertState state;
    state.serial = CA_TRY(pki::Serial::FromHex(rec.serial_hex));
    state.status = rec.revoked ? crl_ocsp::CertStatus::kRevoked : crl_ocsp::CertStatus::kGood;
    if (rec.revoked) {
      state.revocation_time = pki::FromUnix(rec.revoked_at);
      state.reason = CA_TRY(pki::ReasonFromCode(rec.reason));
    }
    state.this_update = now;
    state.next_update = now + options_.freshness.ocsp_validity;
    ders.push_back(CA_TRY(crl_ocsp::BuildOcspResponse(keys_.issuer_cert.get(), signer, state)));
    batch.push_back(crl_ocsp::OcspPublication{ders.back(), pki::FromUnix(rec.not_after)});
  }
  return status_->PutOcspResponses(options_.issuer_name, batch);
}

Status CaInstance::PublishCrl() {
  pki::Time now = pki::Now();
  auto revoked = CA_TRY(store_->RevokedCerts());
  std::vector<pki::CrlEntry> entries;
  crl_ocsp::NotAfterBySerial not_after;
  for (const auto& rec : revoked) {
    if (rec.state != CertState::kIssued) continue;
    pki::CrlEntry e;
    e.serial = CA_TRY(pki::Serial::FromHex(rec.serial_hex));
    e.revocation_time = pki::FromUnix(rec.revoked_at);
    e.reason = CA_TRY(pki::ReasonFromCode(rec.reason));
    not_after[e.serial.Hex()] = pki::FromUnix(rec.not_after);
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
                              {"environment", engine::api::CaEnvironmentName(options_.environment)}});
  return Ok();
}

Status CaInstance::RunStatusJobs() {
  pki::Time now = pki::Now();
  // CRL: daily, and within crl_revocation_delay (≤ 1 minute) of a revocation it does not list.
  bool crl_due = false;
  std::optional<pki::Time> pending_revocation;
  {
    std::lock_guard lock(crl_mu_);
    crl_ocsp::CrlState state{crl_last_this_update_, first_unpublished_revocation_};
    crl_due = crl_ocsp::CrlDue(state, now, options_.freshness);
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
  std::vector<crl_ocsp::ResponseState> states;
  states.reserve(records.size());
  {
    auto txn = CA_TRY(lmdb::Txn::BeginRead(status_->env()));
    for (const auto& rec : records) {
      crl_ocsp::ResponseState st;
      st.serial = CA_TRY(pki::Serial::FromHex(rec.serial_hex));
      st.cert_not_after = pki::FromUnix(rec.not_after);
      st.cert_revoked = rec.revoked;
      auto stored = CA_TRY(crl_ocsp::FindResponse(txn.get(), status_->dbs(), options_.issuer_name, st.serial.magnitude));
      if (stored) {
        st.response_this_update = stored->this_update;
        st.response_next_update = stored->next_update;
        st.response_says_revoked = stored->status == crl_ocsp::CertStatus::kRevoked;
      }
      states.push_back(std::move(st));
    }
  }
  auto schedule = crl_ocsp::ScheduleOcsp(states, now, options_.freshness);
  std::vector<CertRecord> resign;
  for (const auto& item : schedule.now) resign.push_back(records[item.index]);
  for (size_t i = 0; i < resign.size(); i += 256) {
    std::vector<CertRecord> chunk(resign.begin() + static_cast<ptrdiff_t>(i),
                                  resign.begin() + static_cast<ptrdiff_t>(std::min(resign.size(), i + 256)));
    CA_TRY_STATUS(PublishOcsp(chunk));
  }
  if (!resign.empty()) log::Info("ocsp_resigned", {{"count", resign.size()}, {"issuer", options_.issuer_name}});
  pki::Time next = now + std::chrono::minutes(1);
  if (schedule.next_wake_up && *schedule.next_wake_up < next) next = *schedule.next_wake_up;
  next_ocsp_scan_ = next;
  return Ok();
}

}  // namespace ca::engine
