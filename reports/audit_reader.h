// Incremental, verifying reader of one hash-chained audit file (common/audit_log.h) for the ledger:
// each call takes the complete lines appended since the last one, checks every entry (canonical
// form, hash, link to the previous entry, seq + 1) and returns the sound ones. A partial last line
// waits for the next call. The first defect stops the reader for good (problem() says where): a
// ledger never shows an event whose chain does not verify, nor anything after it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace ca::reports {

class AuditReader {
 public:
  // `source` names the file's writer side ("engine", "gateway", "ra").
  AuditReader(std::string source, std::string path);

  // Appends the entries verified since the last call to `out`, reading at most about `max_bytes`
  // (drained() says whether it reached the end). A file that does not exist yet reads as empty.
  // kCorrupt at the first defect (the entries before it are in `out`), and at every later call;
  // kIo when the file cannot be read.
  Status ReadNew(std::vector<nlohmann::json>& out, size_t max_bytes = kDefaultMaxBytes);
  bool drained() const { return drained_; }
  static constexpr size_t kDefaultMaxBytes = 16 << 20;

  const std::string& source() const { return source_; }
  const std::string& path() const { return path_; }
  // Empty while the chain verifies; else "<path> line N: what is wrong".
  const std::string& problem() const { return problem_; }
  int64_t offset() const { return offset_; }

 private:
  // Checks one complete line against the chain so far; takes it in (or holds it as a possibly
  // torn fragment). False: the chain is broken (problem_ set).
  bool TakeLine(std::string_view line, std::vector<nlohmann::json>& out);
  bool Break(const std::string& what);

  std::string source_, path_;
  int64_t offset_ = 0;  // bytes read and verified (always at a line boundary)
  uint64_t line_ = 0;   // complete lines read
  uint64_t last_seq_ = 0;
  std::string last_hash_;
  // Lines that are not JSON, held until the next entry says whether they are a torn write sealed
  // by an audit_tail_repaired entry (as ca-audit verify-audit accepts them).
  std::vector<std::string> torn_;
  uint64_t torn_line_ = 0;
  std::string problem_;
  bool drained_ = true;
};

}  // namespace ca::reports
