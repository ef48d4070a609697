// CaInstance status jobs: OCSP responses signed (at issuance, at revocation, and re-signed near
// half-life) and the CRL signed when due (daily, and soon after a revocation it does not list).
// The CRL job and the OCSP job run independently, each with its own backoff (status_jobs.h); what
// they sign is dated by the injectable wall clock and never goes backwards.
#include "engine/status_jobs.h"

#include <algorithm>
#include <iterator>

#include "common/encoding.h"
#include "common/log.h"
#include "crl_ocsp/ocsp_response.h"
#include "engine/ca_instance.h"
#include "engine/crl_shards.h"
#include "engine/instance_util.h"
#include "pki/crl_builder.h"

namespace ca::engine {

// The CRL schedule survives restarts through the stores: the current CRL's thisUpdate, and the
// oldest revocation recorded since.
Status CaInstance::LoadCrlSchedule() {
  std::lock_guard lock(crl_mu_);
  if (auto current = CA_TRY(status_->CurrentCrl(options_.issuer_name)); current) {
    auto info = CA_TRY(crl_ocsp::InspectCrl(*current, keys_.issuer_cert.get()));
    crl_last_this_update_ = info.this_update;
  }
  {
    auto txn = CA_TRY(kv::Txn::BeginRead(status_->env()));
    CA_TRY_STATUS(crl_ocsp::ForEachCrl(txn, status_->dbs(), options_.issuer_name,
                                       [&](crl_ocsp::CrlScope, const crl_ocsp::StoredCrl& crl) {
                                         if (!crl_newest_this_update_ ||
                                             crl.info.this_update > *crl_newest_this_update_)
                                           crl_newest_this_update_ = crl.info.this_update;
                                         return true;
                                       }));
  }
  // A revocation is dated before it commits, so one dated shortly before the current CRL may be
  // missing from it: those make the CRL due too (at most one extra CRL after a restart).
  constexpr std::chrono::minutes kCommitWindow{5};
  for (const auto& rec : CA_TRY(store_->RevokedCerts())) {
    pki::Time at = pki::FromUnix(rec.revoked_at);
    if (!crl_last_this_update_ || at >= *crl_last_this_update_ - kCommitWindow)
      NoteRevocationLocked(at);
  }
  return Ok();
}

void CaInstance::NoteRevocation(int64_t revoked_at) {
  std::lock_guard lock(crl_mu_);
  NoteRevocationLocked(pki::FromUnix(revoked_at));
}

void CaInstance::NoteRevocationLocked(pki::Time at) {
  ++revocations_noted_;
  if (!first_unpublished_revocation_ || at < *first_unpublished_revocation_)
    first_unpublished_revocation_ = at;
}

// Each response's thisUpdate is now, or the stored response's thisUpdate if the clock is behind
// it (after a step back): the store refuses an older response, and a revocation must still replace
// a `good` answer.
// Certificates of a profile without OCSP (CertRecord::ocsp false) are left out: no response is
// ever signed for them, at issuance, at revocation or by the OCSP job.
Status CaInstance::PublishOcsp(const std::vector<CertRecord>& records) {
  if (!std::ranges::all_of(records, &CertRecord::ocsp)) {
    std::vector<CertRecord> with_ocsp;
    std::ranges::copy_if(records, std::back_inserter(with_ocsp), &CertRecord::ocsp);
    return PublishOcsp(with_ocsp);
  }
  if (records.empty()) return Ok();
  crl_ocsp::OcspSigner signer{keys_.ocsp_key.get(), keys_.ocsp_cert.get()};
  pki::Time now = jobs_.clock.wall();
  std::vector<crl_ocsp::OcspCertState> states;
  states.reserve(records.size());
  size_t held = 0;
  {
    auto txn = CA_TRY(kv::Txn::BeginRead(status_->env()));
    for (const auto& rec : records) {
      crl_ocsp::OcspCertState state;
      state.serial = CA_TRY(pki::Serial::FromHex(rec.serial_hex));
      state.status = rec.revoked ? crl_ocsp::CertStatus::kRevoked : crl_ocsp::CertStatus::kGood;
      if (rec.revoked) {
        state.revocation_time = pki::FromUnix(rec.revoked_at);
        state.reason = CA_TRY(pki::ReasonFromCode(rec.reason));
      }
      state.this_update = now;
      auto stored = CA_TRY(crl_ocsp::FindResponse(txn, status_->dbs(), options_.issuer_name,
                                                  state.serial.magnitude));
      if (stored && stored->this_update > now) {
        state.this_update = stored->this_update;
        ++held;
      }
      state.next_update = state.this_update + options_.freshness.ocsp_validity;
      states.push_back(std::move(state));
    }
  }
  if (held > 0) {
    log::Warn("ocsp_this_update_held",
              {{"issuer", options_.issuer_name},
               {"count", held},
               {"detail", "the clock is behind stored responses' thisUpdate"}});
  }
  std::vector<Bytes> ders;
  std::vector<crl_ocsp::OcspPublication> batch;
  ders.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    CA_TRY_STATUS(CheckSigningLease());  // engine pair: before each HSM signature
    ders.push_back(CA_TRY(crl_ocsp::BuildOcspResponse(keys_.issuer_cert.get(), signer, states[i])));
    batch.push_back(crl_ocsp::OcspPublication{ders.back(), pki::FromUnix(records[i].not_after)});
  }
  return status_->PutOcspResponses(options_.issuer_name, batch);
}

// A CRL dated before the current one would be refused by the publish guard after a CRL number and
// a signature were spent: refuse first (the clock stepped back), spending neither. Every scope
// (full CRL, shards) counts: they share the issuer's one number sequence.
Status CaInstance::CheckCrlClock(pki::Time now) {
  std::lock_guard lock(crl_mu_);
  if (crl_newest_this_update_ && now < *crl_newest_this_update_) {
    ++jobs_.crl_refused_clock_behind;
    return Fail(ErrorCode::kFailedPrecondition,
                "the clock (" + std::to_string(pki::ToUnix(now)) +
                    ") is behind the current CRL's thisUpdate (" +
                    std::to_string(pki::ToUnix(*crl_newest_this_update_)) +
                    "): no CRL published, no CRL number spent");
  }
  return Ok();
}

Status CaInstance::PublishCrl(pki::Time now, const std::vector<CertRecord>& revoked) {
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
  CA_TRY_STATUS(CheckSigningLease());  // a standby spends no CRL number
  req.number = CA_TRY(status_->ReserveCrlNumber(options_.issuer_name));
  req.this_update = now;
  req.next_update = now + options_.freshness.crl_validity;
  req.entries = entries;
  CA_TRY_STATUS(CheckSigningLease());  // engine pair: right before the HSM signature
  Bytes der = CA_TRY(pki::BuildCrl(req));
  auto info = CA_TRY(status_->PublishCrl(options_.issuer_name, der, not_after));
  {
    std::lock_guard lock(crl_mu_);
    crl_newest_this_update_ = std::max(crl_newest_this_update_.value_or(now), now);
  }
  log::Info("crl_published",
            {{"issuer", options_.issuer_name},
             {"number", info.number},
             {"entries", info.entries},
             {"environment", engine::api::CaEnvironmentName(options_.environment)}});
  return Ok();
}

Status CaInstance::PublishShard(uint32_t shard, const ShardContent& content, pki::Time now) {
  crl_ocsp::CrlScope scope = crl_ocsp::CrlScope::Shard(shard);
  pki::CrlRequest req;
  req.issuer = keys_.issuer_cert.get();
  req.key = keys_.issuer_key.get();
  req.distribution_point = CA_TRY(crl_ocsp::CrlScopeUrl(options_.crl_url, scope));
  CA_TRY_STATUS(CheckSigningLease());  // a standby spends no CRL number
  req.number = CA_TRY(status_->ReserveCrlNumber(options_.issuer_name));
  req.this_update = now;
  req.next_update = now + options_.freshness.crl_validity;
  req.entries = content.entries;
  CA_TRY_STATUS(CheckSigningLease());  // engine pair: right before the HSM signature
  Bytes der = CA_TRY(pki::BuildCrl(req));
  auto info = CA_TRY(status_->PublishCrl(options_.issuer_name, der, content.not_after, scope,
                                         req.distribution_point));
  std::array<uint8_t, 32> sha{};
  Bytes body_sha = Sha256(der);
  std::copy(body_sha.begin(), body_sha.end(), sha.begin());
  shard_digests_[shard] = {sha, DigestOfEntries(content.entries)};
  ++jobs_.crl_shards_signed;
  {
    std::lock_guard lock(crl_mu_);
    crl_newest_this_update_ = std::max(crl_newest_this_update_.value_or(now), now);
  }
  log::Info("crl_published",
            {{"issuer", options_.issuer_name},
             {"shard", shard},
             {"number", info.number},
             {"entries", info.entries},
             {"environment", engine::api::CaEnvironmentName(options_.environment)}});
  return Ok();
}

Result<pki::Time> CaInstance::PublishShards(pki::Time now, const std::vector<CertRecord>& revoked) {
  const std::chrono::seconds refresh = options_.freshness.crl_validity / 2;
  struct Current {
    pki::Time this_update;
    EntriesDigest entries;
  };
  std::map<uint32_t, Current> current;
  std::map<uint32_t, pki::Time> current_this_update;
  {
    auto txn = CA_TRY(kv::Txn::BeginRead(status_->env()));
    Status inner = Ok();
    CA_TRY_STATUS(crl_ocsp::ForEachCrl(
        txn, status_->dbs(), options_.issuer_name,
        [&](crl_ocsp::CrlScope scope, const crl_ocsp::StoredCrl& crl) {
          if (scope.IsFull()) return true;
          uint32_t k = *scope.shard;
          auto cached = shard_digests_.find(k);
          if (cached == shard_digests_.end() ||
              !std::equal(cached->second.first.begin(), cached->second.first.end(),
                          crl.body_sha256.begin())) {
            auto der = std::span(reinterpret_cast<const uint8_t*>(crl.der.data()), crl.der.size());
            auto digest = DigestOfCrlEntries(der);
            if (!digest) {
              inner = std::unexpected(digest.error());
              return false;
            }
            std::array<uint8_t, 32> sha{};
            std::copy(crl.body_sha256.begin(), crl.body_sha256.end(), sha.begin());
            cached = shard_digests_.insert_or_assign(k, std::pair{sha, *digest}).first;
          }
          current[k] = Current{crl.info.this_update, cached->second.second};
          current_this_update[k] = crl.info.this_update;
          return true;
        }));
    CA_TRY_STATUS(inner);
  }
  auto plan = PlanShards(revoked, options_.crl_shards, legacy_shards_, current_this_update, now,
                         options_.freshness.crl_validity);
  pki::Time next = now + std::min(refresh, options_.freshness.crl_interval);
  Status result = Ok();
  for (const auto& [k, content] : plan) {
    auto it = current.find(k);
    bool due = it == current.end() || it->second.entries != DigestOfEntries(content.entries) ||
               now >= it->second.this_update + refresh;
    if (!due) {
      next = std::min(next, it->second.this_update + refresh);
      continue;
    }
    if (Status s = PublishShard(k, content, now); !s && result) result = s;
  }
  // A shard no certificate names any more (the count was lowered, its certificates expired).
  for (const auto& [k, cur] : current) {
    if (plan.contains(k) || k < options_.crl_shards) continue;
    if (auto gone = status_->RetireCrlShard(options_.issuer_name, k); !gone) {
      if (result) result = std::unexpected(gone.error());
      continue;
    }
    shard_digests_.erase(k);
    legacy_shards_.erase(k);
    log::Info("crl_shard_retired", {{"issuer", options_.issuer_name}, {"shard", k}});
  }
  CA_TRY_STATUS(result);
  return next;
}

namespace {

// Records a job's failure in its backoff and logs when it will be retried.
void BackOff(JobBackoff& backoff, MonoTime now, std::string_view job, const std::string& issuer,
             const Status& failure) {
  std::chrono::seconds delay = backoff.Failed(now);
  log::Warn("status_job_backoff", {{"job", job},
                                   {"issuer", issuer},
                                   {"failures", backoff.failures()},
                                   {"retry_in_seconds", delay.count()},
                                   {"error", failure.error().ToString()}});
}

}  // namespace

Status CaInstance::RunStatusJobs() {
  Status crl = RunCrlJob();
  Status ocsp = RunOcspJob();  // whatever became of the CRL
  return crl ? ocsp : crl;
}

// CRL: daily, and within crl_revocation_delay (<= 1 minute) of a revocation it does not list.
// Shards: with the full CRL (so a revocation reaches its shard as soon, and before the full CRL),
// and on their own schedule (a shard past half of its validity).
Status CaInstance::RunCrlJob() {
  MonoTime mono = jobs_.clock.monotonic();
  if (!jobs_.crl.Ready(mono)) return Ok();
  pki::Time now = jobs_.clock.wall();
  bool full_due = false;
  uint64_t noted_before_read = 0;
  {
    std::lock_guard lock(crl_mu_);
    crl_ocsp::CrlState state{crl_last_this_update_, first_unpublished_revocation_};
    full_due = crl_ocsp::CrlDue(state, now, options_.freshness);
    noted_before_read = revocations_noted_;
  }
  bool shards_due = ShardsEnabled() && (full_due || !jobs_.next_shard_check ||
                                        now >= *jobs_.next_shard_check);
  if (!full_due && !shards_due) return Ok();
  // One read of the revocations for every scope: the shards and the full CRL list the same ones.
  std::vector<CertRecord> revoked;
  Status clock = CheckCrlClock(now);
  if (clock) {
    if (auto read = store_->RevokedCerts(); read) {
      revoked = std::move(*read);
    } else {
      clock = std::unexpected(read.error());
    }
    Crash("crl_revocations_read");
  }
  Status s = clock;
  // Shards first: a consumer that sees a revocation in the full CRL finds it in its shard too.
  // A failed shard pass does not hold the full CRL back.
  if (clock && shards_due) {
    auto next = PublishShards(now, revoked);
    if (next) {
      jobs_.next_shard_check = *next;
    } else {
      jobs_.next_shard_check.reset();  // retried after the backoff, revocation or not
      s = std::unexpected(next.error());
    }
  }
  if (clock && full_due) {
    if (Status full = PublishCrl(now, revoked); !full) {
      if (s) s = full;
    } else {
      std::lock_guard lock(crl_mu_);
      crl_last_this_update_ = now;
      // A revocation noted after RevokedCerts() read the store may have committed after that read
      // (it is dated before its commit, so possibly before `now`): the CRL stays due for it, at
      // `now` + crl_revocation_delay (a stream of revocations gets a CRL per delay, not per
      // second).
      if (revocations_noted_ == noted_before_read) {
        first_unpublished_revocation_.reset();
      } else if (first_unpublished_revocation_ && *first_unpublished_revocation_ < now) {
        first_unpublished_revocation_ = now;
      }
    }
  }
  if (!s) {
    BackOff(jobs_.crl, mono, "crl", options_.issuer_name, s);
    return s;
  }
  jobs_.crl.Succeeded();
  return Ok();
}

// OCSP: responses missing or past half-life are re-signed, in chunks; a failed chunk does not
// stop the others.
Status CaInstance::RunOcspJob() {
  MonoTime mono = jobs_.clock.monotonic();
  if (!jobs_.ocsp.Ready(mono)) return Ok();
  if (jobs_.next_ocsp_scan && mono < *jobs_.next_ocsp_scan) return Ok();
  pki::Time now = jobs_.clock.wall();
  std::vector<CertRecord> records;
  std::vector<crl_ocsp::ResponseState> states;
  Status read = [&]() -> Status {
    // Without OCSP (CertRecord::ocsp false) a certificate has no response to keep fresh: it is
    // never scheduled, so it is never "missing".
    CA_TRY_STATUS(store_->ForEachIssued([&](const CertRecord& rec) {
      if (rec.ocsp) records.push_back(rec);
    }));
    states.reserve(records.size());
    auto txn = CA_TRY(kv::Txn::BeginRead(status_->env()));
    for (const auto& rec : records) {
      crl_ocsp::ResponseState st;
      st.serial = CA_TRY(pki::Serial::FromHex(rec.serial_hex));
      st.cert_not_after = pki::FromUnix(rec.not_after);
      st.cert_revoked = rec.revoked;
      auto stored = CA_TRY(
          crl_ocsp::FindResponse(txn, status_->dbs(), options_.issuer_name, st.serial.magnitude));
      if (stored) {
        st.response_this_update = stored->this_update;
        st.response_next_update = stored->next_update;
        st.response_says_revoked = stored->status == crl_ocsp::CertStatus::kRevoked;
      }
      states.push_back(std::move(st));
    }
    return Ok();
  }();
  if (!read) {
    BackOff(jobs_.ocsp, mono, "ocsp", options_.issuer_name, read);
    return read;
  }
  auto schedule = crl_ocsp::ScheduleOcsp(states, now, options_.freshness);
  std::vector<CertRecord> resign;
  for (const auto& item : schedule.now) resign.push_back(records[item.index]);
  Status result = Ok();
  size_t signed_count = 0;
  for (size_t i = 0; i < resign.size(); i += 256) {
    std::vector<CertRecord> chunk(
        resign.begin() + static_cast<ptrdiff_t>(i),
        resign.begin() + static_cast<ptrdiff_t>(std::min(resign.size(), i + 256)));
    if (Status s = PublishOcsp(chunk); !s) {
      if (result) result = s;
    } else {
      signed_count += chunk.size();
    }
  }
  if (signed_count > 0)
    log::Info("ocsp_resigned", {{"count", signed_count}, {"issuer", options_.issuer_name}});
  if (!result) {
    BackOff(jobs_.ocsp, mono, "ocsp", options_.issuer_name, result);
    return result;
  }
  jobs_.ocsp.Succeeded();
  // The next scan in monotonic time: at most a minute away, sooner if a response reaches
  // half-life sooner.
  std::chrono::seconds wait = std::chrono::minutes(1);
  if (schedule.next_wake_up) {
    auto until = std::chrono::duration_cast<std::chrono::seconds>(*schedule.next_wake_up - now);
    wait = std::clamp(until, std::chrono::seconds(0), wait);
  }
  jobs_.next_ocsp_scan = mono + wait;
  return Ok();
}

}  // namespace ca::engine
