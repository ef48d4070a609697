// The hash-chained, append-only audit file: one JSON object per line,
//   {"event":..., <event fields>..., "hash":H, "pid":P, "prev":Hprev, "seq":N, "ts":T, "writer":W}
// written in canonical form (keys sorted, compact, ASCII). H = hex SHA-256 of Hprev, "\n" and the
// canonical bytes of the entry without "hash"; the first entry's prev is 64 zeros. Editing an
// entry breaks its hash; deleting, inserting or reordering lines breaks the prev link and the seq;
// truncating the file at a line boundary removes a suffix (only an external copy of the last hash
// shows that: verify prints it).
//
// Writers: several processes may append to one file. Every append takes flock(LOCK_EX) on the file
// and writes one line with O_APPEND; the tail (seq, hash) is kept in memory and re-read from the
// file under the lock only when another writer appended since (the file size tells).
//
// Durability: Append() is one write(2): the entry survives a crash of the process at once, and a
// power loss once Sync() (fdatasync) has run. Busy writers (the engine, hundreds of entries a
// second) call Sync() periodically (the engine: once a second from its background thread), so a
// power loss may lose up to that interval of audit entries; the CA store's LMDB records stay
// durable regardless. Infrequent writers (the RA CLI) call Sync() after each command.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace ca::audit {

// prev of the first entry.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Keys every entry has; event fields must not use them.
inline constexpr std::string_view kReservedKeys[] = {"event", "hash", "pid",   "prev",
                                                     "seq",   "ts",   "writer"};

// Canonical bytes of a JSON value (sorted keys, compact, non-ASCII escaped).
std::string Canonical(const nlohmann::json& value);
// The hash of `entry` (its "hash" member, if any, is ignored; its "prev" is chained).
std::string EntryHash(const nlohmann::json& entry);

struct AuditEvent {
  std::string event;
  nlohmann::json fields = nlohmann::json::object();
};

class AuditLog {
 public:
  // Opens (creates 0640 if missing) `path` for appending as `writer` (e.g. "ca-engine"). Refuses a
  // file whose last line is incomplete or whose last entry does not verify: the chain must resume
  // from a sound tail (ca-audit verify-audit FILE says what is wrong).
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& path, std::string writer);
  ~AuditLog();  // Sync() then close
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends one entry; returns its seq. Thread-safe.
  Result<uint64_t> Append(std::string_view event, const nlohmann::json& fields);

  // Appends the entries `make` returns, given the last entry in the file (null when empty), all
  // under one lock: a writer that must not duplicate what another process already appended
  // reads its progress from the tail. Returns the number appended.
  using BatchFn = std::function<Result<std::vector<AuditEvent>>(const nlohmann::json& last_entry)>;
  Result<size_t> AppendBatch(const BatchFn& make);

  // fdatasync if anything was appended since the last Sync.
  Status Sync();

  const std::string& path() const { return path_; }

 private:
  struct Tail {
    uint64_t seq = 0;
    std::string hash{kGenesisHash};
    nlohmann::json entry;  // null when the file is empty
  };
  AuditLog(int fd, std::string path, std::string writer)
      : fd_(fd), path_(std::move(path)), writer_(std::move(writer)) {}
  // Under the lock: the current tail (cached when no other writer appended) and the file size.
  Result<std::pair<Tail, int64_t>> CurrentTail();
  Result<std::string> MakeLine(const Tail& tail, const AuditEvent& e, Tail& next) const;
  Status WriteLocked(const std::string& lines, int64_t size_before);

  int fd_ = -1;
  std::string path_, writer_;
  std::mutex mu_;
  Tail tail_;
  int64_t tail_end_ = -1;  // file size right after our last append (-1: unknown)
  bool dirty_ = false;
  bool broken_ = false;  // a short write left a partial line: no more appends
};

// The last line of the file open on `fd` (of `size` bytes) without its "\n", and whether the file
// ends with "\n" (false: the last line is incomplete). Empty file: {"", true}.
Result<std::pair<std::string, bool>> ReadLastLine(int fd, int64_t size);

struct Problem {
  uint64_t line = 0;  // 1-based
  std::string what;
};

struct VerifyReport {
  uint64_t entries = 0;  // complete lines read
  uint64_t first_seq = 0, last_seq = 0;
  std::string last_hash{kGenesisHash};
  std::vector<Problem> problems;
  bool ok() const { return problems.empty(); }
};

// Checks every line: JSON object in canonical form, hash, prev link, seq (1, 2, ...), and that the
// last line is complete. Keeps going after a problem (chaining from the line as it stands), so
// each defect is reported once where it is.
VerifyReport VerifyText(std::string_view text);
Result<VerifyReport> VerifyFile(const std::string& path);

}  // namespace ca::audit
