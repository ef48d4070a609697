#include "engine/recorder.h"

#include <chrono>
#include <cstdlib>
#include <string>

#include "common/log.h"
#include "crl_ocsp/revocation.h"
#include "crl_ocsp/status_store.h"
#include "engine/ca_instance.h"
#include "engine/lease_keeper.h"
#include "kv/kv.h"
#include "pki/revocation_reason.h"

namespace ca::engine {
namespace {

using engine::api::EngineError;
using nlohmann::json;

std::string ReasonName(int code) {
  auto reason = pki::ReasonFromCode(code);
  return reason ? std::string(pki::ReasonName(*reason)) : "code_" + std::to_string(code);
}

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status Recorder::Audit(std::string_view event, const json& fields, bool durable) {
  if (!audit_) return Ok();
  auto appended = durable ? audit_->AppendDurable(event, fields) : audit_->Append(event, fields);
  metrics_.CountAudit(appended.has_value());
  if (!appended) {
    log::Error("audit_append_failed",
               {{"audit_event", event}, {"error", appended.error().ToString()}});
    return std::unexpected(appended.error());
  }
  return Ok();
}

namespace {

json CertFields(engine::api::CaEnvironment env, const CertRecord& rec, std::string_view by) {
  return {{"environment", engine::api::CaEnvironmentName(env)},
          {"serial", rec.serial_hex},
          {"request_id", rec.request_id},
          {"order", rec.order_id},
          {"account", rec.acme_account_id},
          {"external_account", rec.external_account_kid},
          {"profile", rec.profile},
          {"names", rec.names},
          {"not_before", rec.not_before},
          {"not_after", rec.not_after},
          {"completed_by", by}};
}

}  // namespace

Status Recorder::SignIntent(engine::api::CaEnvironment env, const CertRecord& reservation,
                            std::string_view by) {
  return Audit("sign_intent", CertFields(env, reservation, by), true);
}

Status Recorder::Issued(engine::api::CaEnvironment env, const CertRecord& record,
                        std::string_view by) {
  json fields = CertFields(env, record, by);
  fields["result"] = "issued";
  fields["result_code"] = "OK";
  return Audit("issued", fields, true);
}

Result<int64_t> Recorder::Position() {
  return audit_ ? audit_->Size() : Result<int64_t>(0);
}

Result<std::set<std::string>> Recorder::IssuedSince(engine::api::CaEnvironment env,
                                                    int64_t position) {
  std::set<std::string> out;
  if (!audit_) return out;
  std::string env_name(engine::api::CaEnvironmentName(env));
  CA_TRY_STATUS(audit_->ScanFrom(position, [&](const json& e) {
    if (e.value("event", "") == "issued" && e.value("environment", "") == env_name &&
        e.contains("serial") && e["serial"].is_string())
      out.insert(e["serial"].get<std::string>());
  }));
  return out;
}

engine::api::Response Recorder::OnResponse(const engine::api::Request& request,
                                           engine::api::Response response) {
  const auto* error = std::get_if<EngineError>(&response);
  auto with_error = [&](json fields) {
    if (error != nullptr) {
      fields["result"] = engine::api::EngineErrorKindName(error->kind);
      fields["result_code"] = error->result_code;
      fields["name"] = error->name;
      fields["detail"] = error->detail;
    }
    return fields;
  };
  // An acknowledgement goes out only once its entry is durable.
  auto acknowledged = [&](std::string_view event, const json& fields) -> engine::api::Response {
    auto s = Audit(event, fields, true);
    if (s) return std::move(response);
    return EngineError{engine::api::EngineErrorKind::kUnavailable, "ACME_CA_ERROR", "",
                       "audit trail unavailable, done but not acknowledged (retry)"};
  };
  if (const auto* issue = std::get_if<engine::api::IssueRequest>(&request)) {
    if (std::holds_alternative<engine::api::IssueResponse>(response)) {
      // Its sign_intent and issued entries were written durably by the pipeline (IssuanceAudit).
      metrics_.CountIssue(issue->profile, "issued");
    } else if (error != nullptr) {
      json fields = {{"environment", engine::api::CaEnvironmentName(issue->environment)},
                     {"request_id", issue->request_id},
                     {"order", issue->order_id},
                     {"account", issue->acme_account_id},
                     {"external_account", issue->external_account_kid},
                     {"profile", issue->profile},
                     {"names", issue->names},
                     {"gateway_policy_version", issue->policy_version}};
      metrics_.CountIssue(issue->profile, engine::api::EngineErrorKindName(error->kind));
      (void)Audit("issue_refused", with_error(std::move(fields)), false);
    }
    return response;
  }
  if (const auto* revoke = std::get_if<engine::api::RevokeRequest>(&request)) {
    int reason = static_cast<int>(revoke->reason);
    json fields = {{"environment", engine::api::CaEnvironmentName(revoke->environment)},
                   {"serial", revoke->serial_hex},
                   {"reason", reason},
                   {"reason_name", ReasonName(reason)},
                   {"actor", revoke->actor}};
    if (const auto* done = std::get_if<engine::api::RevokeResponse>(&response)) {
      if (done->newly_revoked) metrics_.CountRevoked(reason, 1);
      fields["newly_revoked"] = done->newly_revoked;
      fields["revoked_at"] = done->revoked_at;
      fields["result"] = "revoked";
      return acknowledged("revoked", fields);
    }
    if (error != nullptr) {
      metrics_.CountRevokeRefused();
      (void)Audit("revoke_refused", with_error(std::move(fields)), false);
    }
    return response;
  }
  if (const auto* all = std::get_if<engine::api::RevokeAllForAccountRequest>(&request)) {
    int reason = static_cast<int>(all->reason);
    json fields = {{"environment", engine::api::CaEnvironmentName(all->environment)},
                   {"account", all->acme_account_id},
                   {"external_account", all->external_account_kid},
                   {"reason", reason},
                   {"reason_name", ReasonName(reason)},
                   {"actor", all->actor}};
    if (const auto* done = std::get_if<engine::api::RevokeAllForAccountResponse>(&response)) {
      metrics_.CountRevoked(reason, done->revoked_count);
      fields["revoked_count"] = done->revoked_count;
      fields["result"] = "revoked";
      return acknowledged("revoked_all_for_account", fields);
    }
    if (error != nullptr) {
      metrics_.CountRevokeRefused();
      (void)Audit("revoke_all_refused", with_error(std::move(fields)), false);
    }
  }
  return response;
}

Status Recorder::OnMassRevocations(engine::api::CaEnvironment env, CaInstance& instance,
                                   uint64_t applied_before) {
  // The CA store records each applied mass revocation ("mass_revocation:<seq>", engine/ca_store.h)
  // with the serials it revoked: the audit entry is that record. "mass_revocation_audited_seq"
  // says how far the audit file has them durably, so that a failed append is retried.
  constexpr std::string_view kAuditedKey = "mass_revocation_audited_seq";
  CaStore& store = instance.store();
  uint64_t applied = CA_TRY(store.AppliedMassRevocationSeq());
  uint64_t audited = applied_before;
  std::vector<json> records;
  {
    auto txn = CA_TRY(kv::Txn::BeginRead(store.env()));
    if (auto v = CA_TRY(txn.Get(store.dbs().meta, kAuditedKey)); v)
      audited = std::strtoull(std::string(*v).c_str(), nullptr, 10);
    for (uint64_t seq = audited + 1; seq <= applied; ++seq) {
      auto value = CA_TRY(txn.Get(store.dbs().meta, "mass_revocation:" + std::to_string(seq)));
      records.push_back(value ? json::parse(*value, nullptr, false) : json());
    }
  }
  for (uint64_t seq = audited + 1; seq <= applied; ++seq) {
    const json& record = records[seq - audited - 1];
    json fields = {{"environment", engine::api::CaEnvironmentName(env)},
                   {"mass_revocation_seq", seq}};
    for (const char* key : {"acme_account_id", "external_account_kid", "reason", "actor",
                            "policy_version", "applied_at", "revoked"}) {
      if (record.is_object() && record.contains(key)) fields[key] = record[key];
    }
    int reason = record.is_object() ? record.value("reason", 0) : 0;
    fields["reason_name"] = ReasonName(reason);
    uint64_t count =
        record.is_object() && record.contains("revoked") && record["revoked"].is_array()
            ? record["revoked"].size()
            : 0;
    fields["revoked_count"] = count;
    if (seq > applied_before) metrics_.CountRevoked(reason, count);
    CA_TRY_STATUS(Audit("mass_revocation_applied", fields, true));
    CA_TRY_STATUS(store.Write([&](kv::Txn& txn, const StoreDbs& d) -> Status {
      return txn.Put(d.meta, kAuditedKey, std::to_string(seq));
    }));
  }
  return Ok();
}

void Recorder::OnTick(
    const std::map<engine::api::CaEnvironment, std::unique_ptr<CaInstance>>& instances) {
  if (audit_) {
    if (auto s = audit_->Sync(); !s)
      log::Error("audit_sync_failed", {{"error", s.error().ToString()}});
  }
  if (++ticks_ >= options_.metrics_interval_seconds) {
    ticks_ = 0;
    WriteMetrics(instances);
  }
}

void Recorder::WriteMetrics(
    const std::map<engine::api::CaEnvironment, std::unique_ptr<CaInstance>>& instances) {
  if (options_.metrics_file.empty()) return;
  std::vector<CrlGauge> crls;
  for (const auto& [env, inst] : instances) {
    auto txn = kv::Txn::BeginRead(inst->status_store().env());
    if (!txn) continue;
    auto crl = crl_ocsp::FindCrl(*txn, inst->status_store().dbs(), inst->issuer_name());
    if (!crl || !*crl) continue;
    const auto& info = (*crl)->info;
    crls.push_back(CrlGauge{
        std::string(engine::api::CaEnvironmentName(env)), inst->issuer_name(), info.number,
        std::chrono::duration_cast<std::chrono::seconds>(info.this_update.time_since_epoch())
            .count(),
        std::chrono::duration_cast<std::chrono::seconds>(info.next_update.time_since_epoch())
            .count(),
        info.entries});
  }
  std::vector<HaGauge> ha;
  for (const auto& [env, inst] : instances) {
    if (const LeaseKeeper* lease = inst->lease(); lease != nullptr) {
      ha.push_back(HaGauge{std::string(engine::api::CaEnvironmentName(env)), lease->options().lease,
                           lease->options().holder, lease->Active(), lease->epoch(),
                           lease->activations(), lease->renew_failures(), lease->losses(),
                           std::nullopt});
      if (auto watch = replication_.find(env); watch != replication_.end() && watch->second)
        ha.back().db = watch->second->Snapshot();
    }
  }
  if (auto s =
          EngineMetrics::WriteFile(options_.metrics_file, metrics_.Render(crls, NowUnix(), ha));
      !s) {
    log::Warn("metrics_write_failed", {{"error", s.error().ToString()}});
  }
}

}  // namespace ca::engine
