// Issuance throughput of the real engine (SoftHSM token, durable records, OCSP pre-signing)
// through the authenticated channel, with 1 and 2 client threads, next to the raw RSA-3072
// signature rate of the same token measured in the same run. Subscriber keys are generated
// before timing. Usage: engine_bench [certificates per run, default 200]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <string>
#include <vector>

#include <time.h>
#include <unistd.h>

#include "engine/testing/engine_process.h"

using namespace ca;
using Clock = std::chrono::steady_clock;

namespace {

struct RawResult {
  double per_second = 0;
  double cpu_ms_per_signature = 0;  // this process's CPU (SoftHSM runs in-process)
};

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

RawResult RawSignatures(hsm::HsmKey& key, int threads, std::chrono::seconds duration) {
  std::atomic<long> count{0};
  std::vector<std::thread> workers;
  double cpu0 = ProcessCpuSeconds();
  auto end = Clock::now() + duration;
  std::vector<uint8_t> data(1200, 0x5a);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      while (Clock::now() < end) {
        if (key.Sign(hsm::SignScheme::kRsaPkcs1Sha256, data)) ++count;
      }
    });
  }
  for (auto& w : workers) w.join();
  RawResult r;
  r.per_second = static_cast<double>(count) / static_cast<double>(duration.count());
  if (count > 0) r.cpu_ms_per_signature = 1000.0 * (ProcessCpuSeconds() - cpu0) / static_cast<double>(count);
  return r;
}

struct RunResult {
  double per_second = 0;
  double p50_ms = 0, p99_ms = 0;
  double engine_cpu_ms_per_cert = 0;  // user+system CPU of the engine process (a figure robust to load)
  int failures = 0;
};

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
  r.per_second = static_cast<double>(all.size()) / seconds;
  if (!all.empty()) r.engine_cpu_ms_per_cert = (ProcessCpuMs(setup.pid()) - cpu_before) / static_cast<double>(all.size());
  if (!all.empty()) {
    r.p50_ms = all[all.size() / 2];
    r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  size_t per_run = argc > 1 ? static_cast<size_t>(std::atol(argv[1])) : 200;
  auto setup = engine::testing::EngineSetup::Create(CA_ENGINE_BIN);
  if (!setup) {
    std::fprintf(stderr, "setup: %s\n", setup.error().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "generating %zu RSA-3072 subscriber keys...\n", 2 * per_run);
  std::vector<std::vector<uint8_t>> csrs(2 * per_run);
  {
    std::vector<std::thread> gen;
    for (size_t t = 0; t < 2; ++t) {
      gen.emplace_back([&, t] {
        for (size_t i = t; i < csrs.size(); i += 2) {
          auto key = engine::testing::FreshRsaKey();
          csrs[i] = engine::testing::CsrDer(key.get(), {"b" + std::to_string(i) + ".example.fr"});
        }
      });
    }
    for (auto& g : gen) g.join();
  }
  if (auto s = (*setup)->Start(); !s) {
    std::fprintf(stderr, "start: %s\n", s.error().ToString().c_str());
    return 1;
  }
  auto client = (*setup)->Client(2);
  if (!client) return 1;
  // Warm up the channel connections and the token's sessions.
  IssueRun(**setup, *client, csrs, 0, 4, 2, "warm");
  auto one = IssueRun(**setup, *client, csrs, 4, per_run - 4, 1, "one");
  auto two = IssueRun(**setup, *client, csrs, per_run, per_run, 2, "two");
  (*setup)->Stop();
  // Raw signatures on the same token, engine stopped (same cores, no competition).
  auto key = (*setup)->intermediate_key();
  RawResult r1 = RawSignatures(*key, 1, std::chrono::seconds(3));
  RawResult r2 = RawSignatures(*key, 2, std::chrono::seconds(3));
  double raw1 = r1.per_second, raw2 = r2.per_second;
  std::printf("threads  certs/s  raw_rsa3072_sig/s  ratio  p50_ms  p99_ms  engine_cpu_ms/cert  failures\n");
  std::printf("1        %7.1f  %17.1f  %4.0f%%  %6.2f  %6.2f  %18.2f  %d\n", one.per_second, raw1,
              100 * one.per_second / raw1, one.p50_ms, one.p99_ms, one.engine_cpu_ms_per_cert, one.failures);
  std::printf("2        %7.1f  %17.1f  %4.0f%%  %6.2f  %6.2f  %18.2f  %d\n", two.per_second, raw2,
              100 * two.per_second / raw2, two.p50_ms, two.p99_ms, two.engine_cpu_ms_per_cert, two.failures);
  std::printf("raw RSA-3072 signature: %.2f ms CPU each (1 thread), %.2f ms (2 threads)\n",
              r1.cpu_ms_per_signature, r2.cpu_ms_per_signature);
  return 0;
}
