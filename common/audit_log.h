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
// power loss once it is synced. AppendDurable() returns only once its entry is fdatasync'ed
// (group commit: concurrent callers share one fdatasync); the engine acknowledges nothing before
// its audit entry is durable. Sync() fdatasyncs what Append() wrote (the RA after each command).
//
// Faults: a failed or short write (volume full) is cut back to the last complete entry at once, so
// the chain stays intact and the next append works as soon as space returns; a failed fdatasync
// drops the unsynced entries (they are reported as failed to their callers). Open() repairs a torn
// last line left by a crash (truncates it, logs audit_tail_repaired and records the repair as an
// entry).
#pragma once

#include <condition_variable>
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
  // Opens (creates 0640 if missing) `path` for appending as `writer` (e.g. "ca-engine"). A torn
  // last line (a crash mid-write) is cut off, logged (audit_tail_repaired) and recorded as an
  // "audit_tail_repaired" entry. Refuses a file whose last complete entry does not verify: the
  // chain must resume from a sound tail (ca-audit verify-audit FILE says what is wrong).
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& path, std::string writer);
  ~AuditLog();  // Sync() then close
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends one entry; returns its seq. Thread-safe.
  Result<uint64_t> Append(std::string_view event, const nlohmann::json& fields);
  // Appends one entry and returns once it is durable (group-committed fdatasync); returns its seq.
  Result<uint64_t> AppendDurable(std::string_view event, const nlohmann::json& fields);

  // Appends the entries `make` returns, given the last entry in the file (null when empty), all
  // under one lock: a writer that must not duplicate what another process already appended
  // reads its progress from the tail. Returns the number appended.
  using BatchFn = std::function<Result<std::vector<AuditEvent>>(const nlohmann::json& last_entry)>;
  Result<size_t> AppendBatch(const BatchFn& make);

  // fdatasync if anything was appended since the last Sync.
  Status Sync();

  // The file's size now (a position from which later entries can be scanned).
  Result<int64_t> Size() const;
  // Calls `fn` with each complete entry from the line that contains byte `offset` to the end.
  Status ScanFrom(int64_t offset, const std::function<void(const nlohmann::json&)>& fn) const;

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
  // Cuts a torn last line (Open, under both locks); returns the bytes removed (0 when it was
  // sealed).
  Result<int64_t> RepairTornTail();
  // Under both locks, when the bytes after `good_size` (a partial line) cannot be cut because the
  // file is append-only (chattr +a): ends them with a newline and appends an audit_tail_repaired
  // entry naming them (torn_bytes, torn_sha256), which the verifier accepts as a sealed fragment.
  Status SealFragment(int64_t good_size);
  // Appends under the locks; returns the ticket of the last entry written (0: none written).
  Result<uint64_t> AppendTicket(const BatchFn& make, size_t* appended);
  // Returns once every entry up to `ticket` is fdatasync'ed (group commit), or fails.
  Status SyncThrough(uint64_t ticket);
  // After a failed fdatasync: cuts the file back to the last synced size when no other writer
  // appended since; returns the last ticket that is lost.
  uint64_t DropUnsynced();

  int fd_ = -1;
  std::string path_, writer_;
  mutable std::mutex mu_;  // guards the members below down to sync_mu_
  Tail tail_;
  int64_t tail_end_ = -1;     // file size right after our last append (-1: unknown)
  uint64_t appended_ = 0;     // tickets: entries appended by this object
  bool broken_ = false;       // a short write left a partial line that could not be cut yet
  int64_t good_size_ = 0;     // when broken_: the size to cut back to
  int64_t synced_size_ = -1;  // file size covered by the last successful fdatasync (-1: unknown)

  std::mutex sync_mu_;  // guards the group commit below
  std::condition_variable sync_cv_;
  bool syncing_ = false;
  uint64_t synced_ = 0;  // every ticket <= synced_ not in lost_ is durable
  std::vector<std::pair<uint64_t, uint64_t>>
      lost_;  // [first, last] tickets a failed fdatasync lost
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
// last line is complete. Lines that are not JSON objects directly followed by an
// audit_tail_repaired entry whose torn_sha256 is the hash of exactly those bytes (a torn write
// sealed in an append-only file) are accepted. Keeps going after a problem (chaining from the line
// as it stands), so each defect is reported once where it is.
VerifyReport VerifyText(std::string_view text);
Result<VerifyReport> VerifyFile(const std::string& path);

}  // namespace ca::audit
