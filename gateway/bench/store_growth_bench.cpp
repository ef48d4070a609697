// Growth of the gateway store under retention: writes `orders` synthetic orders (one authorization
// and two challenges each, the shape newOrder writes) spread over `days` simulated days, prunes
// once per simulated day with the default retention (30 days after expiry), and prints per 10 %
// of the run: orders held, map bytes in use, and the median/p99 time of newOrder's two store
// operations (the rate-limit count of the account's last hour, then the order's write), measured
// on a fresh account and on the one busy account that holds the whole history.
//
//   build/gateway/bench/store_growth_bench 1000000 100
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "gateway/retention.h"
#include "gateway/store.h"

namespace {

using namespace ca::gateway;
using Clock = std::chrono::steady_clock;

constexpr int64_t kDay = 86400;
constexpr int kPerTransaction = 500;

ca::Status WriteOrder(StoreTxn& txn, const std::string& account, const std::string& id, int64_t now) {
  ChallengeRecord c{id + "c1", id + "a", account, "http-01", "token-" + id, ChallengeStatus::kValid,
                    now, nullptr, 1};
  CA_TRY_STATUS(txn.PutChallenge(c));
  c.id = id + "c2";
  c.type = "dns-01";
  c.status = ChallengeStatus::kPending;
  CA_TRY_STATUS(txn.PutChallenge(c));
  AuthzRecord a;
  a.id = id + "a";
  a.account_id = account;
  a.order_id = id;
  a.name = "host-" + id + ".example.com";
  a.status = AuthzStatus::kValid;
  a.expires = now + 7 * kDay;
  a.challenge_ids = {id + "c1", id + "c2"};
  CA_TRY_STATUS(txn.PutAuthz(a));
  OrderRecord o;
  o.id = id;
  o.account_id = account;
  o.external_account_kid = "kid";
  o.status = OrderStatus::kValid;
  o.created_at = now;
  o.expires = now + 7 * kDay;
  o.names = {a.name};
  o.authz_ids = {a.id};
  o.profile = "SSL";
  return txn.PutOrder(o);
}

struct Latency {
  double p50_us = 0, p99_us = 0;
};

// newOrder's store work for `account`: count its orders of the last hour, then write one order.
Latency MeasureNewOrder(const AcmeStore& store, const std::string& account, int64_t now, int samples) {
  std::vector<double> us;
  for (int i = 0; i < samples; ++i) {
    auto start = Clock::now();
    auto txn = store.Read();
    auto recent = txn->CountOrdersSince(account, now - 3600);
    if (!recent) std::abort();
    std::string id = "probe-" + ca::RandomUuidV4();
    if (!store.Write([&](StoreTxn& w) { return WriteOrder(w, account, id, now); })) std::abort();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

}  // namespace

int Run(const AcmeStore& store, long total, int days);

int main(int argc, char** argv) {
  long total = argc > 1 ? std::atol(argv[1]) : 1000000;
  int days = argc > 2 ? std::atoi(argv[2]) : 100;
  auto dir = std::filesystem::temp_directory_path() / ("store-growth-" + ca::RandomUuidV4());
  auto opened = AcmeStore::Open(dir.string());
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().ToString().c_str());
    return 1;
  }
  int rc = Run(*opened, total, days);
  std::filesystem::remove_all(dir);
  return rc;
}

int Run(const AcmeStore& store_ref, long total, int days) {
  const AcmeStore* store = &store_ref;
  int64_t start = 1'700'000'000, now = start;
  StorePruner pruner(*store, RetentionOptions{}, [&] { return now; });
  long per_day = std::max(1L, total / days), written = 0, held = 0;
  std::printf("orders=%ld days=%d per_day=%ld retention=30d after expiry (7d)\n", total, days, per_day);
  std::printf("%9s %5s %9s %10s %13s %13s %13s %13s\n", "written", "day", "held", "used_MiB",
              "busy_p50_us", "busy_p99_us", "fresh_p50_us", "fresh_p99_us");
  long next_report = total / 10;
  while (written < total) {
    long today = std::min(per_day, total - written);
    for (long done = 0; done < today; done += kPerTransaction) {
      long n = std::min<long>(kPerTransaction, today - done);
      auto s = store->Write([&](StoreTxn& txn) -> ca::Status {
        for (long i = 0; i < n; ++i) {
          CA_TRY_STATUS(WriteOrder(txn, "busy", "o" + std::to_string(written + done + i), now + i));
        }
        return ca::Ok();
      });
      if (!s) {
        std::fprintf(stderr, "write: %s\n", s.error().ToString().c_str());
        return 1;
      }
    }
    written += today;
    held += today;
    now += kDay;
    auto pruned = pruner.RunOnce();
    if (!pruned) {
      std::fprintf(stderr, "prune: %s\n", pruned.error().ToString().c_str());
      return 1;
    }
    held -= static_cast<long>(pruned->orders);
    if (written >= next_report || written == total) {
      next_report += total / 10;
      auto busy = MeasureNewOrder(*store, "busy", now, 200);
      auto fresh = MeasureNewOrder(*store, "fresh-" + std::to_string(written), now, 200);
      auto usage = store->env().GetUsage();
      std::printf("%9ld %5ld %9ld %10.1f %13.0f %13.0f %13.0f %13.0f\n", written, (now - start) / kDay,
                  held, usage ? usage->used_bytes / 1048576.0 : -1.0, busy.p50_us, busy.p99_us,
                  fresh.p50_us, fresh.p99_us);
      std::fflush(stdout);
    }
  }
  return 0;
}
