// export_bench [RESPONSES] [DIR]: fills a status store with RESPONSES (default 100,000) pre-signed
// OCSP responses (software EC key) and a CRL, then times ca-status-export's passes over it: the
// first (writes every file: two per response), a second with nothing changed, and one after 1% of
// the responses were re-signed. Prints wall time, files, manifest size and peak RSS. DIR (default a
// temporary directory, removed) holds the store and the export.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "crl_ocsp/export/exporter.h"
#include "crl_ocsp/testing/temp_dir.h"
#include "crl_ocsp/testing/test_pki.h"
#include "pki/crl_builder.h"

namespace {

using namespace ca;
using namespace ca::crl_ocsp;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

long PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

// Signs and stores responses for serials [from, to), in batches.
void Publish(StatusStore& store, const testing::Pki& pki, size_t from, size_t to,
             Time this_update) {
  std::vector<Bytes> ders;
  std::vector<OcspPublication> batch;
  for (size_t i = from; i < to; ++i) {
    char hex[32];
    std::snprintf(hex, sizeof(hex), "7a%08zx", i);
    OcspCertState st{*pki::Serial::FromHex(hex),
                     CertStatus::kGood,
                     {},
                     pki::RevocationReason::kUnspecified,
                     this_update,
                     this_update + std::chrono::hours(96)};
    ders.push_back(*BuildOcspResponse(pki.ca.get(), {pki.ocsp_key.get(), pki.ocsp.get()}, st));
    if (ders.size() == 1000 || i + 1 == to) {
      batch.clear();
      for (const Bytes& d : ders) batch.push_back({d, this_update + std::chrono::hours(24 * 30)});
      if (!store.PutOcspResponses("bench", batch)) std::abort();
      ders.clear();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100000;
  testing::TempDir temp;
  std::string dir = argc > 2 ? argv[2] : temp.path();
  testing::Pki pki = testing::MakePki();
  auto store = StatusStore::Open({dir + "/store"});
  if (!store || !store->RegisterIssuer("bench", pki.ca.get())) return 1;
  Time now = pki::Now();
  auto t = Clock::now();
  Publish(*store, pki, 0, n, now - std::chrono::hours(1));
  uint64_t number = *store->ReserveCrlNumber("bench");
  Bytes crl = *pki::BuildCrl(
      {pki.ca.get(), pki.ca_key.get(), number, now, now + std::chrono::hours(168), {}});
  if (!store->PublishCrl("bench", crl, {})) return 1;
  std::printf("store: %zu responses signed and stored in %.2f s\n", n, Since(t));

  auto exporter = exporter::Exporter::Open(store->env(), store->dbs(),
                                           {dir + "/export", {}, std::chrono::seconds(900)});
  if (!exporter) return 1;
  auto pass = [&](const char* what, Time at) {
    auto start = Clock::now();
    auto stats = exporter->RunPass(at);
    if (!stats) {
      std::fprintf(stderr, "%s\n", stats.error().ToString().c_str());
      std::exit(1);
    }
    std::printf(
        "%-28s %7.2f s  files %zu written %zu removed %zu  manifest %.1f MB  peak RSS %ld MB\n",
        what, Since(start), stats->files, stats->written, stats->removed,
        std::filesystem::file_size(dir + "/export/manifest.json") / 1e6, PeakRssMb());
  };
  pass("first pass (all new)", now);
  pass("second pass (no change)", now + std::chrono::seconds(5));
  Publish(*store, pki, 0, n / 100, now);
  pass("after 1% re-signed", now + std::chrono::seconds(10));
  return 0;
}
