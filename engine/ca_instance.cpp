// The owner of one CA instance: opening (keys checked, stores opened, crash recovery) and the
// certificate lookup. Issuance is in issuance.cpp, revocation in revocation.cpp, the CRL and OCSP
// jobs in status_jobs.cpp.
#include "engine/ca_instance.h"

#include "common/encoding.h"
#include "common/log.h"
#include "engine/instance_util.h"
#include "engine/lease_keeper.h"

namespace ca::engine {
namespace {

using engine::api::EngineErrorKind;
using engine::api::Response;
using instance_util::Refuse;

profiles::issuance::Environment ToIssuanceEnv(engine::api::CaEnvironment env) {
  return env == engine::api::CaEnvironment::kStaging ? profiles::issuance::Environment::kStaging
                                                    : profiles::issuance::Environment::kProduction;
}

}  // namespace

Result<std::unique_ptr<CaInstance>> CaInstance::Open(CaInstanceOptions options, CaKeys keys, CrashHook crash_hook,
                                                     IssuanceAudit* audit) {
  std::string env_name(engine::api::CaEnvironmentName(options.environment));
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
  inst->audit_ = audit;
  inst->audit_epoch_ = RandomUuidV4();
  inst->profiles_ = CA_TRY(profiles::issuance::LoadProfiles(opt.profiles_dir, ToIssuanceEnv(opt.environment)));
  inst->issuer_ = profiles::issuance::Issuer{inst->keys_.issuer_cert.get(), opt.ocsp_url, opt.ca_issuers_url, opt.crl_url};
  CA_TRY_STATUS(profiles::issuance::ValidateIssuer(inst->issuer_));
  if (opt.crl_shards > crl_ocsp::kMaxCrlShards) {
    return Fail(ErrorCode::kInvalidArgument, env_name + ": crl_shards must be at most " +
                                                 std::to_string(crl_ocsp::kMaxCrlShards));
  }
  if (opt.crl_shards > 0) {
    if (auto url = crl_ocsp::CrlScopeUrl(opt.crl_url, crl_ocsp::CrlScope::Shard(0)); !url)
      return Fail(ErrorCode::kInvalidArgument, env_name + ": " + url.error().message);
  }
  inst->store_ = CA_TRY(CaStore::Open(opt.store_dir));
  crl_ocsp::StoreOptions so;
  so.path = opt.status_store_dir;
  inst->status_ = std::make_unique<crl_ocsp::StatusStore>(CA_TRY(crl_ocsp::StatusStore::Open(so)));
  CA_TRY_STATUS(inst->status_->RegisterIssuer(opt.issuer_name, inst->keys_.issuer_cert.get()));
  // Engine pair: from here on every write transaction of this instance, in both stores, checks
  // inside itself that this node holds the lease at the keeper's epoch (kv/kv.h Fence). The
  // issuer's registration above writes only what is missing, the same bytes from either node.
  if (opt.lease != nullptr && inst->store_->env().engine() == kv::Engine::kPostgres) {
    CA_TRY_STATUS(inst->store_->env().backend().SetFence(opt.lease->fence()));
    CA_TRY_STATUS(inst->status_->env().backend().SetFence(opt.lease->fence()));
  }

  CA_TRY_STATUS(inst->LoadCrlSchedule());
  // A standby leaves the reservations to the holder; the engine reconciles them once this node
  // becomes active (TakeOver).
  if (opt.lease != nullptr && !opt.lease->Active()) {
    log::Info("recovery_left_to_lease_holder",
              {{"environment", env_name}, {"detail", opt.lease->StandbyDetail()}});
  } else if (auto recovered = inst->CompleteAllPending(); !recovered) {
    // A full audit volume or an absent token must not keep the CA down: the background retries.
    if (recovered.error().code != ErrorCode::kUnavailable) return std::unexpected(recovered.error());
    log::Warn("recovery_deferred", {{"environment", env_name}, {"error", recovered.error().ToString()}});
  }
  // Shards above crl_shards still named by certificates (the count was lowered), read after the
  // recovery so that a reservation it completed counts.
  inst->legacy_shards_ = CA_TRY(LatestNotAfterByShard(*inst->store_, opt.crl_shards));
  log::Info("ca_instance_ready", {{"environment", env_name}, {"issuer", opt.issuer_name}});
  return inst;
}

CaInstance::~CaInstance() = default;

Status CaInstance::CheckSigningLease() const {
  if (options_.lease == nullptr || options_.lease->Active()) return Ok();
  return Fail(ErrorCode::kUnavailable, options_.lease->StandbyDetail());
}

Status CaInstance::TakeOver() {
  {
    std::lock_guard lock(crl_mu_);
    first_unpublished_revocation_.reset();  // re-read: the other node may have listed it
  }
  CA_TRY_STATUS(LoadCrlSchedule());
  jobs_.next_ocsp_scan.reset();  // scan now: the other node's responses may be ageing
  jobs_.next_shard_check.reset();
  return CompleteAllPending(/*min_age_seconds=*/0);
}

Response CaInstance::GetCertificate(const engine::api::GetCertificateRequest& request) {
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
  engine::api::CertificateRecord out;
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
  out.reason = static_cast<pki::RevocationReason>(rec.reason);
  return out;
}

}  // namespace ca::engine
