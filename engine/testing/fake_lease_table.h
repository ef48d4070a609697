// Test-only: the lease table of kv/kv.h (AcquireLease / ReleaseLease) in memory, for the engine
// pair's tests without PostgreSQL (lease_keeper_test.cpp, engine_pair_test.cpp).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "engine/lease_keeper.h"

namespace ca::engine::testing {

using std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;

// The lease table as kv.h specifies it, in memory, on a simulated clock shared by the "server"
// and the nodes: AcquireLease takes a free, expired or own lease (renewing the own one at the
// same epoch; taking it from another holder bumps the epoch). Each call takes `latency` of
// simulated time before the server reads its clock (the request's trip), and a node can be cut
// off from the database (its calls fail).
class FakeLeaseTable {
 public:
  struct Row {
    std::string holder;
    uint64_t epoch = 0;
    TimePoint expires;
  };

  TimePoint now{std::chrono::hours(1)};
  milliseconds latency{0};
  std::map<std::string, bool> cut_off;  // by holder
  // When set, `now` is read from it at each call (tests on a shared, skewable clock).
  std::function<TimePoint()> clock;

  LeaseOps Ops() {
    return LeaseOps{[this](std::string_view lease, std::string_view holder,
                           milliseconds ttl) -> Result<kv::LeaseState> {
                      if (cut_off[std::string(holder)])
                        return Fail(ErrorCode::kUnavailable, "database unreachable");
                      if (clock) now = clock();
                      now += latency;
                      Row& row = rows_[std::string(lease)];
                      bool expired = row.holder.empty() || now >= row.expires;
                      kv::LeaseState state;
                      if (row.holder == holder || expired) {
                        if (row.holder != holder) ++row.epoch;
                        row.holder = std::string(holder);
                        row.expires = now + ttl;
                        state.held = true;
                      }
                      state.holder = row.holder;
                      state.epoch = row.epoch;
                      state.remaining =
                          now < row.expires
                              ? std::chrono::duration_cast<milliseconds>(row.expires - now)
                              : milliseconds(0);
                      return state;
                    },
                    [this](std::string_view lease, std::string_view holder) -> Status {
                      if (cut_off[std::string(holder)])
                        return Fail(ErrorCode::kUnavailable, "database unreachable");
                      if (clock) now = clock();
                      Row& row = rows_[std::string(lease)];
                      if (row.holder == holder) row.expires = now;
                      return Ok();
                    }};
  }
  const Row& row(const std::string& lease) { return rows_[lease]; }

 private:
  std::map<std::string, Row> rows_;
};

}  // namespace ca::engine::testing
