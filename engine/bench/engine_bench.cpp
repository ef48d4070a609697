// Issuance throughput of the real engine (SoftHSM token, durable records, audit trail off, OCSP
// pre-signing) through the authenticated channel, against the HSM's own limit measured in the same
// run: limit(T) = 1 / (t_rsa + t_ecdsa), where t_x = 1 / (raw C_Sign rate of that key with T
// threads). Every certificate costs one RSA-3072 signature (the certificate) and one P-256
// signature (its OCSP response).
//
//   saturated, T = 1 and 2: the engine holds T HSM sessions (hsm.pool_size = T, so at most T
//     signatures at a time) and 4·T client connections keep it busy: the engine at the HSM's limit.
//   lone: one client, one request at a time (pool of 2): the latency of one issuance, whose
//     durable writes (reservation before C_Sign, record and OCSP response after) cannot overlap
//     another request's signature.
//
// Usage: engine_bench [certificates per run, default 200] [--key-pool FILE [--key-offset K]]
// The key pool is scripts/bench/acme_load.py's (concatenated PEM RSA-3072 keys); without it the
// subscriber keys are generated before timing (3 runs x N keys; keys missing from the pool are
// generated and appended to it). Lines starting with RATIO and CPU
// are for scripts (scripts/bench/quick.sh, bench-acme.sh).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <time.h>
#include <unistd.h>

#include "engine/testing/engine_process.h"

using namespace ca;
using Clock = std::chrono::steady_clock;

namespace {

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct RawResult {
  double per_second = 0;
  double cpu_ms_per_signature = 0;  // this process's CPU (SoftHSM runs in-process)
};

RawResult RawSignatures(hsm::HsmKey& key, hsm::SignScheme scheme, int threads, std::chrono::seconds duration) {
  std::atomic<long> count{0};
  std::vector<std::thread> workers;
  double cpu0 = ProcessCpuSeconds();
  auto start = Clock::now();
  auto end = start + duration;
  std::vector<uint8_t> data(1200, 0x5a);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      while (Clock::now() < end) {
        if (key.Sign(scheme, data)) ++count;
      }
    });
  }
  for (auto& w : workers) w.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  RawResult r;
  r.per_second = static_cast<double>(count) / seconds;
  if (count > 0) r.cpu_ms_per_signature = 1000.0 * (ProcessCpuSeconds() - cpu0) / static_cast<double>(count);
  return r;
}

// utime + stime of a process in milliseconds, from /proc/PID/stat.
double ProcessCpuMs(pid_t pid) {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return 0;
  char buf[1024] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  std::string stat(buf, n);
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  std::string rest = stat.substr(stat.rfind(')') + 2);
  unsigned long utime = 0, stime = 0;
  if (std::sscanf(rest.c_str(), "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) return 0;
  return 1000.0 * static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct RunResult {
  size_t issued = 0;
  double per_second = 0;
  double p50_ms = 0, p99_ms = 0;
  double engine_cpu_ms_per_cert = 0;  // user+system CPU of the engine process (robust to load)
  int failures = 0;
};

// The CSRs of one run: csrs[offset, offset + n).
RunResult IssueRun(engine::testing::EngineSetup& setup, engine::api::EngineClient& client,
                   const std::vector<std::vector<uint8_t>>& csrs, size_t offset, size_t n, int threads,
                   const std::string& tag) {
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  double cpu_before = ProcessCpuMs(setup.pid());
  std::vector<std::vector<double>> latencies(static_cast<size_t>(threads));
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (size_t i; (i = next++) < n;) {
        engine::api::IssueRequest r;
        r.request_id = tag + "-" + std::to_string(i);
        r.order_id = r.request_id;
        r.acme_account_id = "bench";
        r.external_account_kid = setup.kid();
        r.profile = "SSL";
        r.names = {"b" + std::to_string(offset + i) + ".example.fr"};
        r.csr_der = csrs[offset + i];
        auto t0 = Clock::now();
        auto resp = client.Issue(r);
        auto dt = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (!resp || !std::holds_alternative<engine::api::IssueResponse>(*resp)) {
          ++failures;
          if (resp) std::fprintf(stderr, "refused: %s\n", std::get<engine::api::EngineError>(*resp).detail.c_str());
          continue;
        }
        latencies[static_cast<size_t>(t)].push_back(dt);
      }
    });
  }
  for (auto& w : workers) w.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  RunResult r;
  r.failures = failures;
  r.issued = all.size();
  r.per_second = static_cast<double>(all.size()) / seconds;
  if (!all.empty()) {
    r.engine_cpu_ms_per_cert = (ProcessCpuMs(setup.pid()) - cpu_before) / static_cast<double>(all.size());
    r.p50_ms = all[all.size() / 2];
    r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return r;
}

// RSA-3072 keys from a PEM file (acme_load.py's key pool), from `offset` on.
std::vector<ossl::Pkey> KeysFromPool(const char* path, size_t offset, size_t count) {
  std::vector<ossl::Pkey> keys;
  BIO* bio = BIO_new_file(path, "r");
  if (bio == nullptr) return keys;
  for (size_t i = 0; keys.size() < count; ++i) {
    EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    if (k == nullptr) break;
    if (i >= offset) keys.emplace_back(k);
    else EVP_PKEY_free(k);
  }
  BIO_free(bio);
  return keys;
}

std::vector<std::vector<uint8_t>> MakeCsrs(size_t count, const char* pool, size_t pool_offset) {
  std::vector<ossl::Pkey> keys;
  if (pool != nullptr) keys = KeysFromPool(pool, pool_offset, count);
  if (pool != nullptr && keys.size() < count)
    std::fprintf(stderr, "key pool %s holds %zu keys from offset %zu; generating the other %zu\n", pool,
                 keys.size(), pool_offset, count - keys.size());
  size_t from_pool = keys.size();
  keys.resize(count);
  std::vector<std::vector<uint8_t>> csrs(count);
  std::vector<std::thread> gen;
  for (size_t t = 0; t < 2; ++t) {
    gen.emplace_back([&, t] {
      for (size_t i = t; i < count; i += 2) {
        if (i >= from_pool) keys[i] = engine::testing::FreshRsaKey();
        csrs[i] = engine::testing::CsrDer(keys[i].get(), {"b" + std::to_string(i) + ".example.fr"});
      }
    });
  }
  for (auto& g : gen) g.join();
  if (pool != nullptr && from_pool < count) {  // keep the generated keys for the next run
    BIO* out = BIO_new_file(pool, "a");
    for (size_t i = from_pool; out != nullptr && i < count; ++i)
      PEM_write_bio_PrivateKey(out, keys[i].get(), nullptr, nullptr, 0, nullptr, nullptr);
    if (out != nullptr) BIO_free(out);
  }
  return csrs;
}

struct Limit {
  RawResult rsa, ecdsa;
  double per_second() const { return 1.0 / (1.0 / rsa.per_second + 1.0 / ecdsa.per_second); }
};

}  // namespace

int main(int argc, char** argv) {
  size_t per_run = 200;
  const char* pool = nullptr;
  size_t pool_offset = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--key-pool") == 0 && i + 1 < argc) pool = argv[++i];
    else if (std::strcmp(argv[i], "--key-offset") == 0 && i + 1 < argc) pool_offset = std::strtoul(argv[++i], nullptr, 10);
    else per_run = std::strtoul(argv[i], nullptr, 10);
  }
  if (per_run < 8) per_run = 8;
  auto setup = engine::testing::EngineSetup::Create(CA_ENGINE_BIN);
  if (!setup) {
    std::fprintf(stderr, "setup: %s\n", setup.error().ToString().c_str());
    return 1;
  }
  // Three runs of per_run certificates, 4 warm-up issuances before each.
  const size_t warm = 4, slice = per_run + warm;
  std::fprintf(stderr, "preparing %zu RSA-3072 subscriber CSRs...\n", 3 * slice);
  auto csrs = MakeCsrs(3 * slice, pool, pool_offset);

  struct Phase {
    const char* name;
    size_t sessions;
    int clients;
  };
  const Phase phases[] = {{"lone", 2, 1}, {"saturated", 1, 4}, {"saturated", 2, 8}};
  RunResult results[3];
  for (size_t p = 0; p < 3; ++p) {
    if (auto s = (*setup)->SetHsmPoolSize(phases[p].sessions); !s) {
      std::fprintf(stderr, "config: %s\n", s.error().ToString().c_str());
      return 1;
    }
    if (auto s = (*setup)->Start(); !s) {
      std::fprintf(stderr, "start: %s\n", s.error().ToString().c_str());
      return 1;
    }
    auto client = (*setup)->Client(static_cast<size_t>(phases[p].clients));
    if (!client) {
      std::fprintf(stderr, "client: %s\n", client.error().ToString().c_str());
      return 1;
    }
    const std::string tag = "p" + std::to_string(p);
    IssueRun(**setup, *client, csrs, p * slice, warm, phases[p].clients, tag + "warm");  // sessions, connections
    results[p] = IssueRun(**setup, *client, csrs, p * slice + warm, per_run, phases[p].clients, tag);
    (*setup)->Stop();
  }

  // The HSM's limit, on the same token with the engine stopped (same cores, no competition).
  auto rsa = (*setup)->intermediate_key();
  auto ec = (*setup)->ocsp_key();
  Limit limits[2];
  for (int t = 1; t <= 2; ++t) {
    limits[t - 1].rsa = RawSignatures(*rsa, hsm::SignScheme::kRsaPkcs1Sha256, t, std::chrono::seconds(3));
    limits[t - 1].ecdsa = RawSignatures(*ec, hsm::SignScheme::kEcdsaSha256, t, std::chrono::seconds(2));
  }

  std::printf("run        HSM sessions  clients  certs/s  limit/s  ratio  p50_ms  p99_ms  engine_cpu_ms/cert  failures\n");
  for (size_t p = 0; p < 3; ++p) {
    const Limit& l = limits[phases[p].sessions == 1 || p == 0 ? 0 : 1];
    std::printf("%-10s %12zu  %7d  %7.1f  %7.1f  %5.2f  %6.2f  %6.2f  %18.2f  %d\n", phases[p].name,
                phases[p].sessions, phases[p].clients, results[p].per_second, l.per_second(),
                results[p].per_second / l.per_second(), results[p].p50_ms, results[p].p99_ms,
                results[p].engine_cpu_ms_per_cert, results[p].failures);
  }
  for (int t = 1; t <= 2; ++t) {
    const Limit& l = limits[t - 1];
    std::printf("raw, %d thread(s): RSA-3072 %.1f sig/s (%.2f ms CPU each), P-256 %.1f sig/s (%.2f ms CPU each)\n", t,
                l.rsa.per_second, l.rsa.cpu_ms_per_signature, l.ecdsa.per_second, l.ecdsa.cpu_ms_per_signature);
  }
  // The lone run is compared with the 1-thread limit: one request at a time uses one session.
  std::printf("RATIO engine threads=1 certs_per_s=%.1f limit_per_s=%.1f ratio=%.3f\n", results[1].per_second,
              limits[0].per_second(), results[1].per_second / limits[0].per_second());
  std::printf("RATIO engine threads=2 certs_per_s=%.1f limit_per_s=%.1f ratio=%.3f\n", results[2].per_second,
              limits[1].per_second(), results[2].per_second / limits[1].per_second());
  std::printf("RATIO engine_lone threads=1 certs_per_s=%.1f limit_per_s=%.1f ratio=%.3f p50_ms=%.2f\n",
              results[0].per_second, limits[0].per_second(), results[0].per_second / limits[0].per_second(),
              results[0].p50_ms);
  std::printf("CPU engine ms_per_cert=%.2f hsm_ms_per_cert=%.2f\n", results[2].engine_cpu_ms_per_cert,
              limits[0].rsa.cpu_ms_per_signature + limits[0].ecdsa.cpu_ms_per_signature);
  int failures = results[0].failures + results[1].failures + results[2].failures;
  return failures == 0 ? 0 : 3;
}
