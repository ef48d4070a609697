// hsm_bench [--seconds S]: RSA-3072 signatures per second on a temporary SoftHSM token, with 1 and
// 2 threads, (a) raw C_SignInit + C_Sign (CKM_RSA_PKCS over a precomputed DigestInfo, one session
// per thread) and (b) through the seam (EVP_DigestSign with the ToEvpPkey key: local SHA-256,
// HSM signature, verification with the public key). Prints the seam/raw ratio (target >= 0.90).
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "hsm/p11.h"
#include "hsm/testing/softhsm_fixture.h"
#include "hsm/token.h"
#include "hsm/token_impl.h"

namespace {

using namespace ca;
using namespace ca::hsm;
using Clock = std::chrono::steady_clock;

struct Rate {
  long count = 0;
  double wall = 0;  // seconds
  double cpu = 0;   // process CPU seconds
  double per_second() const { return count / wall; }
  double cpu_us_per_sig() const { return cpu * 1e6 / count; }
};

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Runs `sign_once(thread)` on `threads` threads for `seconds` and adds to `rate`.
void Measure(int threads, double seconds, const std::function<bool(int)>& sign_once, Rate* rate) {
  std::atomic<bool> stop{false};
  std::atomic<long> count{0}, failures{0};
  std::vector<std::thread> pool;
  double cpu0 = CpuSeconds();
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      while (!stop.load(std::memory_order_relaxed)) {
        if (sign_once(t)) {
          count.fetch_add(1, std::memory_order_relaxed);
        } else {
          failures.fetch_add(1);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  rate->wall += std::chrono::duration<double>(Clock::now() - start).count();
  rate->cpu += CpuSeconds() - cpu0;
  rate->count += count.load();
  if (failures.load() != 0) {
    std::fprintf(stderr, "hsm_bench: %ld signatures failed\n", failures.load());
    std::exit(1);
  }
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "hsm_bench: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3.0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: hsm_bench [--seconds S]\n");
      return 2;
    }
  }
  if (seconds <= 0) return Fail("--seconds must be positive");

  auto fixture = testing::SoftHsmFixture::Create("bench-token");
  if (!fixture) return Fail(fixture.error().ToString());
  auto token = (*fixture)->OpenToken(2);
  if (!token) return Fail(token.error().ToString());
  auto key = (*token)->GenerateKeyPair(KeyType::kRsa3072, "bench-rsa");
  if (!key) return Fail(key.error().ToString());
  auto evp = ToEvpPkey(*key);
  if (!evp) return Fail(evp.error().ToString());

  // Raw: one session per thread on the same token, the key handle found once.
  auto module = p11::Module::Load((*fixture)->module_path());
  if (!module) return Fail(module.error().ToString());
  auto slot = (*module)->FindSlotByTokenLabel("bench-token");
  if (!slot) return Fail(slot.error().ToString());
  std::vector<p11::Session> sessions;
  std::vector<CK_OBJECT_HANDLE> handles;
  for (int t = 0; t < 2; ++t) {
    auto s = p11::Session::Open(*module, *slot);
    if (!s) return Fail(s.error().ToString());
    auto located = LocateKey(*s, "bench-rsa");
    if (!located) return Fail(located.error().ToString());
    handles.push_back(located->private_handle);
    sessions.push_back(std::move(*s));
  }
  std::string tbs(1024, 'c');  // about a certificate's to-be-signed size
  unsigned char digest[32];
  unsigned int dlen = 0;
  EVP_Digest(tbs.data(), tbs.size(), digest, &dlen, EVP_sha256(), nullptr);
  // DigestInfo for SHA-256 built by OpenSSL.
  X509_SIG* di = X509_SIG_new();
  X509_ALGOR* alg = nullptr;
  ASN1_OCTET_STRING* oct = nullptr;
  X509_SIG_getm(di, &alg, &oct);
  X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nullptr);
  ASN1_OCTET_STRING_set(oct, digest, static_cast<int>(dlen));
  unsigned char* di_der = nullptr;
  int di_len = i2d_X509_SIG(di, &di_der);
  X509_SIG_free(di);

  auto raw = [&](int t) {
    CK_MECHANISM mech{CKM_RSA_PKCS, nullptr, 0};
    CK_FUNCTION_LIST* fn = sessions[t].fn();
    if (fn->C_SignInit(sessions[t].handle(), &mech, handles[t]) != CKR_OK) return false;
    unsigned char sig[512];
    CK_ULONG len = sizeof sig;
    return fn->C_Sign(sessions[t].handle(), di_der, static_cast<CK_ULONG>(di_len), sig, &len) ==
           CKR_OK;
  };
  auto seam = [&](int) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned char sig[512];
    size_t len = sizeof sig;
    bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, evp->get()) == 1 &&
              EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(tbs.data()),
                             tbs.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
  };

  // Raw and seam alternate in short rounds so that load from other processes hits both alike.
  constexpr int kRounds = 6;
  std::printf("RSA-3072 PKCS#1 v1.5 SHA-256 on SoftHSM; %d alternating rounds, %.1f s per mode\n",
              kRounds, seconds);
  std::printf(
      "threads  raw sig/s  seam sig/s  seam/raw  raw CPU us/sig  seam CPU us/sig  CPU ratio\n");
  for (int threads : {1, 2}) {
    Rate raw_rate, seam_rate;
    for (int r = 0; r < kRounds; ++r) {
      Measure(threads, seconds / kRounds, raw, &raw_rate);
      Measure(threads, seconds / kRounds, seam, &seam_rate);
    }
    std::printf("%-7d  %9.1f  %10.1f  %8.3f  %14.0f  %15.0f  %9.3f\n", threads,
                raw_rate.per_second(), seam_rate.per_second(),
                seam_rate.per_second() / raw_rate.per_second(), raw_rate.cpu_us_per_sig(),
                seam_rate.cpu_us_per_sig(), raw_rate.cpu_us_per_sig() / seam_rate.cpu_us_per_sig());
  }
  OPENSSL_free(di_der);
  sessions.clear();
  return 0;
}
