// CaInstance: the audit trail of issuance. Nothing is signed before its durable "sign_intent"
// entry, nothing is answered before its durable "issued" entry, and every signed certificate gets
// exactly one "issued" entry however it was completed (the request, a retry, start-up or
// background recovery): the CA store's marker "unaudited:<serial>" says which certificates still
// need theirs (ca_instance.h).
#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "common/log.h"
#include "engine/ca_instance.h"

namespace ca::engine {
namespace {

constexpr std::string_view kMarkerPrefix = "unaudited:";

std::string MarkerKey(std::string_view serial_hex) {
  return std::string(kMarkerPrefix) + std::string(serial_hex);
}

// The answer names no path: the cause is in the journal (audit_append_failed, audit_unavailable).
Error AuditUnavailable(std::string_view what, const Error& e) {
  log::Error("audit_unavailable", {{"what", what}, {"error", e.ToString()}});
  return Error{ErrorCode::kUnavailable, "audit trail unavailable, " + std::string(what)};
}

}  // namespace

Status CaInstance::AuditSignIntent(const CertRecord& reservation, std::string_view by) {
  if (audit_ == nullptr) return Ok();
  if (auto s = audit_->SignIntent(options_.environment, reservation, by); !s)
    return std::unexpected(AuditUnavailable("nothing was signed", s.error()));
  return Ok();
}

Result<std::pair<std::string, std::string>> CaInstance::AuditMarker(std::string_view serial_hex) {
  if (audit_ == nullptr) return std::pair<std::string, std::string>{};
  int64_t position = CA_TRY(audit_->Position());
  return std::pair{MarkerKey(serial_hex),
                   nlohmann::json{{"position", position}, {"epoch", audit_epoch_}}.dump()};
}

Status CaInstance::EnsureIssuedAudited(const CertRecord& record, std::string_view by) {
  if (audit_ == nullptr) return Ok();
  const std::string& serial = record.serial_hex;
  std::unique_lock lock(audit_mu_);
  audit_cv_.wait(lock, [&] { return !auditing_.contains(serial); });
  if (audited_.contains(serial)) return Ok();
  auditing_.insert(serial);
  bool suspect = suspect_.contains(serial);
  lock.unlock();

  Status done = [&]() -> Status {
    auto txn = CA_TRY(kv::Txn::BeginRead(store_->env()));
    auto marker = CA_TRY(txn.Get(store_->dbs().meta, MarkerKey(serial)));
    if (!marker) return Ok();  // audited, marker dropped
    nlohmann::json m = nlohmann::json::parse(*marker, nullptr, false);
    txn.Abort();  // the read transaction ends before the (slow) append
    if (suspect || !m.is_object() || m.value("epoch", "") != audit_epoch_) {
      // Left by a crash or a failed attempt: the entry may be in the file already.
      int64_t position = m.is_object() ? m.value("position", int64_t{0}) : 0;
      auto seen = audit_->IssuedSince(options_.environment, position);
      if (!seen)
        return std::unexpected(AuditUnavailable("cannot read the audit file", seen.error()));
      if (seen->contains(serial)) {
        log::Info("audit_issued_found", {{"serial", serial}});
        return Ok();
      }
    }
    if (auto s = audit_->Issued(options_.environment, record, by); !s)
      return std::unexpected(
          AuditUnavailable("certificate signed but not yet audited (retry)", s.error()));
    return Ok();
  }();

  lock.lock();
  auditing_.erase(serial);
  if (done) {
    audited_.insert(serial);
    suspect_.erase(serial);
  } else {
    suspect_.insert(serial);
  }
  audit_cv_.notify_all();
  return done;
}

Status CaInstance::AuditUnaudited() {
  if (audit_ == nullptr) return Ok();
  std::vector<std::string> serials;
  {
    auto txn = CA_TRY(kv::Txn::BeginRead(store_->env()));
    std::lock_guard lock(audit_mu_);
    CA_TRY_STATUS(
        txn.ForEach(store_->dbs().meta, kMarkerPrefix, [&](std::string_view k, std::string_view v) {
          std::string serial(k.substr(kMarkerPrefix.size()));
          auto m = nlohmann::json::parse(v, nullptr, false);
          bool mine = m.is_object() && m.value("epoch", "") == audit_epoch_;
          // This process's own markers belong to the request that is writing the entry, unless it
          // failed.
          if (!mine || suspect_.contains(serial)) serials.push_back(std::move(serial));
          return true;
        }));
  }
  for (const auto& serial : serials) {
    auto rec = CA_TRY(store_->FindCert(serial));
    if (!rec || rec->state != CertState::kIssued) continue;
    CA_TRY_STATUS(EnsureIssuedAudited(*rec, kByRecovery));
    log::Info("audit_recovered",
              {{"serial", serial},
               {"environment", engine::api::CaEnvironmentName(options_.environment)}});
  }
  return FlushAuditMarkers();
}

Status CaInstance::FlushAuditMarkers() {
  std::vector<std::string> serials;
  {
    std::lock_guard lock(audit_mu_);
    serials.assign(audited_.begin(), audited_.end());
  }
  if (serials.empty()) return Ok();
  CA_TRY_STATUS(store_->Write([&](kv::Txn& txn, const StoreDbs& d) -> Status {
    for (const auto& serial : serials) CA_TRY(txn.Delete(d.meta, MarkerKey(serial)));
    return Ok();
  }));
  std::lock_guard lock(audit_mu_);
  for (const auto& serial : serials) audited_.erase(serial);
  return Ok();
}

}  // namespace ca::engine
