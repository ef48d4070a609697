// ca-audit verify-audit FILE...   checks hash-chained audit files (common/audit_log.h): one line
// per problem ("FILE:LINE: what is wrong") and exit 1 when any file is tampered with or unreadable;
// one summary line per intact file (entries, last seq, last hash: keep it elsewhere to detect a
// truncation later) and exit 0.
#include <iostream>
#include <string>
#include <vector>

#include "common/audit_log.h"

namespace {

int Usage() {
  std::cerr << "usage: ca-audit verify-audit FILE...\n";
  return 2;
}

int VerifyAudit(const std::vector<std::string>& files) {
  int rc = 0;
  for (const auto& file : files) {
    auto report = ca::audit::VerifyFile(file);
    if (!report) {
      std::cerr << "ca-audit: " << report.error().message << "\n";
      rc = 1;
      continue;
    }
    for (const auto& p : report->problems)
      std::cout << file << ":" << p.line << ": " << p.what << "\n";
    if (report->ok()) {
      std::cout << file << ": intact: " << report->entries << " entries, last seq "
                << report->last_seq << ", last hash " << report->last_hash << "\n";
    } else {
      std::cout << file << ": TAMPERED OR DAMAGED: " << report->problems.size() << " problem(s) in "
                << report->entries << " entries\n";
      rc = 1;
    }
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 2 && args[0] == "verify-audit")
    return VerifyAudit({args.begin() + 1, args.end()});
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << "usage: ca-audit verify-audit FILE...\n";
    return 0;
  }
  return Usage();
}
