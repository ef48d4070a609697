// Test-only reader process: opens the policy store read-only and takes snapshots in a loop while
// ca-ra writes, checking invariants that every write transaction preserves:
//  1. the newest audit record carries the snapshot's version (the change and its audit record
//     are one transaction, and the version bump is in it too);
//  2. the number of domain entries equals the number of "domain.add" minus "domain.remove" audit
//     records (a snapshot never shows a domain without its audit record or the reverse);
//  3. versions never go backwards between successive snapshots.
// usage: ra_snapshot_reader STORE_DIR STOP_FILE
// Prints {"snapshots":N,"versions_seen":V,"violations":X,"first":a,"last":b} and exits 0 when
// there was no violation.
#include <unistd.h>

#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "profiles/policy/store.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: ra_snapshot_reader STORE_DIR STOP_FILE\n";
    return 2;
  }
  auto store = ca::profiles::policy::PolicyStore::OpenReadOnly(argv[1]);
  if (!store) {
    std::cerr << store.error().ToString() << "\n";
    return 1;
  }
  uint64_t snapshots = 0, violations = 0, last_version = 0, first_version = 0;
  std::set<uint64_t> versions;
  bool stop_seen = false;
  // One more pass after the stop file appears, so the final state is checked too.
  while (true) {
    if (::access(argv[2], F_OK) == 0) stop_seen = true;
    auto snap = store->Snapshot();
    if (!snap) {
      std::cerr << snap.error().ToString() << "\n";
      return 1;
    }
    ++snapshots;
    uint64_t v = snap->version();
    if (first_version == 0) first_version = v;
    versions.insert(v);
    if (v < last_version) {
      ++violations;
      std::cerr << "version went back from " << last_version << " to " << v << "\n";
    }
    last_version = v;
    auto audit = snap->Audit();
    if (audit.empty() || audit.back().policy_version != v) {
      ++violations;
      std::cerr << "snapshot " << v << ": newest audit record has version "
                << (audit.empty() ? 0 : audit.back().policy_version) << "\n";
    }
    int64_t expected_domains = 0;
    for (const auto& r : audit) {
      if (r.action == "domain.add") ++expected_domains;
      if (r.action == "domain.remove") --expected_domains;
    }
    auto domains = static_cast<int64_t>(snap->AllDomains().size());
    if (domains != expected_domains) {
      ++violations;
      std::cerr << "snapshot " << v << ": " << domains << " domains but audit says "
                << expected_domains << "\n";
    }
    if (stop_seen) break;
  }
  std::cout << nlohmann::json{{"snapshots", snapshots},
                              {"versions_seen", versions.size()},
                              {"violations", violations},
                              {"first", first_version},
                              {"last", last_version}}
                   .dump()
            << "\n";
  return violations == 0 ? 0 : 1;
}
