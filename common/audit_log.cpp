#include "common/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/encoding.h"
#include "common/log.h"

namespace ca::audit {
namespace {

using nlohmann::json;

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

bool IsHex64(const json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Parses one line and checks it on its own: a canonical JSON object with the reserved fields,
// whose hash matches its content. Empty result: sound.
std::string CheckEntry(std::string_view line, json& entry) {
  entry = json::parse(line, nullptr, false);
  if (entry.is_discarded() || !entry.is_object()) return "not a JSON object";
  auto seq = entry.find("seq");
  if (seq == entry.end() || !seq->is_number_unsigned()) return "missing or bad seq";
  auto event = entry.find("event");
  if (event == entry.end() || !event->is_string()) return "missing or bad event";
  if (!IsHex64(entry.value("prev", json()))) return "missing or bad prev";
  if (!IsHex64(entry.value("hash", json()))) return "missing or bad hash";
  if (Canonical(entry) != line) return "not in canonical form (the line was edited)";
  if (EntryHash(entry) != entry["hash"].get<std::string>())
    return "hash does not match the entry (the entry was modified)";
  return "";
}

// flock(LOCK_EX) for a scope.
class FileLock {
 public:
  explicit FileLock(int fd) : fd_(fd) {}
  Status Lock() {
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) return Fail(ErrorCode::kIo, Errno("flock"));
    }
    locked_ = true;
    return Ok();
  }
  ~FileLock() {
    if (locked_) ::flock(fd_, LOCK_UN);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
  bool locked_ = false;
};

}  // namespace

std::string Canonical(const json& value) {
  return value.dump(-1, ' ', true, json::error_handler_t::replace);
}

std::string EntryHash(const json& entry) {
  json body = entry;
  if (body.is_object()) body.erase("hash");
  std::string prev = entry.is_object() && entry.contains("prev") && entry["prev"].is_string()
                         ? entry["prev"].get<std::string>()
                         : std::string();
  return HexEncode(Sha256(prev + "\n" + Canonical(body)));
}

Result<std::pair<std::string, bool>> ReadLastLine(int fd, int64_t size) {
  if (size == 0) return std::pair<std::string, bool>{"", true};
  std::string tail;  // bytes read so far, from some offset to the end
  int64_t offset = size;
  const int64_t kChunk = 4096;
  for (;;) {
    int64_t start = offset > kChunk ? offset - kChunk : 0;
    std::string chunk(static_cast<size_t>(offset - start), '\0');
    ssize_t n = ::pread(fd, chunk.data(), chunk.size(), start);
    if (n != static_cast<ssize_t>(chunk.size()))
      return Fail(ErrorCode::kIo, Errno("reading the audit file's tail"));
    tail.insert(0, chunk);
    offset = start;
    bool complete = tail.back() == '\n';
    size_t body_end = complete ? tail.size() - 1 : tail.size();
    size_t nl = body_end == 0 ? std::string::npos : tail.rfind('\n', body_end - 1);
    if (nl != std::string::npos) return std::pair{tail.substr(nl + 1, body_end - nl - 1), complete};
    if (offset == 0) return std::pair{tail.substr(0, body_end), complete};
    if (tail.size() > (16u << 20)) return Fail(ErrorCode::kCorrupt, "last line longer than 16 MiB");
  }
}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path, std::string writer) {
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return Fail(ErrorCode::kIo, Errno("audit file " + path));
  std::unique_ptr<AuditLog> log(new AuditLog(fd, path, std::move(writer)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Fail(ErrorCode::kIo, Errno("audit file " + path));
  if (!S_ISREG(st.st_mode))
    return Fail(ErrorCode::kInvalidArgument, "audit file " + path + " is not a regular file");
  int64_t removed = 0;
  {
    std::lock_guard guard(log->mu_);
    FileLock lock(fd);
    CA_TRY_STATUS(lock.Lock());
    removed = CA_TRY(log->RepairTornTail());
    auto tail = log->CurrentTail();
    if (!tail) {
      return Fail(tail.error().code, "audit file " + path + ": " + tail.error().message +
                                         " (refusing to extend it; run: ca-audit verify-audit " +
                                         path + ")");
    }
    log->synced_size_ = tail->second;
  }
  if (removed > 0) {
    // The chain itself says that bytes were lost here (a crash mid-write, never an acknowledged
    // entry).
    auto noted = log->AppendDurable("audit_tail_repaired", {{"removed_bytes", removed}});
    if (!noted)
      log::Error("audit_append_failed",
                 {{"audit_event", "audit_tail_repaired"}, {"error", noted.error().ToString()}});
  }
  return log;
}

Result<int64_t> AuditLog::RepairTornTail() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return Fail(ErrorCode::kIo, Errno("fstat"));
  auto [line, complete] = CA_TRY(ReadLastLine(fd_, st.st_size));
  if (complete) return int64_t{0};
  int64_t keep = st.st_size - static_cast<int64_t>(line.size());
  if (::ftruncate(fd_, keep) != 0) {
    if (errno != EPERM)
      return Fail(ErrorCode::kIo, Errno("cutting the torn last line of audit file " + path_));
    CA_TRY_STATUS(SealFragment(keep));  // append-only file: seal it instead
    if (::fdatasync(fd_) != 0) return Fail(ErrorCode::kIo, Errno("fdatasync " + path_));
    log::Warn("audit_tail_repaired", {{"path", path_}, {"sealed_bytes", line.size()}});
    return int64_t{0};
  }
  if (::fdatasync(fd_) != 0) return Fail(ErrorCode::kIo, Errno("fdatasync " + path_));
  log::Warn("audit_tail_repaired", {{"path", path_},
                                    {"removed_bytes", line.size()},
                                    {"size", keep},
                                    {"removed_sha256", HexEncode(Sha256(line))}});
  return static_cast<int64_t>(line.size());
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) {
    (void)Sync();
    ::close(fd_);
  }
}

Result<std::pair<AuditLog::Tail, int64_t>> AuditLog::CurrentTail() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return Fail(ErrorCode::kIo, Errno("fstat"));
  int64_t size = st.st_size;
  if (size == tail_end_) return std::pair{tail_, size};
  auto [line, complete] = CA_TRY(ReadLastLine(fd_, size));
  if (!complete)
    return Fail(ErrorCode::kCorrupt, "the last line is incomplete (torn write or truncation)");
  Tail tail;
  if (size > 0) {
    json entry;
    if (std::string problem = CheckEntry(line, entry); !problem.empty()) {
      return Fail(ErrorCode::kCorrupt, "the last entry is corrupt: " + problem);
    }
    tail.seq = entry["seq"].get<uint64_t>();
    tail.hash = entry["hash"].get<std::string>();
    tail.entry = std::move(entry);
  }
  tail_ = tail;
  tail_end_ = size;
  return std::pair{std::move(tail), size};
}

Result<std::string> AuditLog::MakeLine(const Tail& tail, const AuditEvent& e, Tail& next) const {
  json entry = e.fields.is_null() ? json::object() : e.fields;
  if (!entry.is_object())
    return Fail(ErrorCode::kInvalidArgument, "audit fields must be a JSON object");
  for (auto key : kReservedKeys) {
    if (entry.contains(key))
      return Fail(ErrorCode::kInvalidArgument,
                  "audit field '" + std::string(key) + "' is reserved");
  }
  entry["event"] = e.event;
  entry["seq"] = tail.seq + 1;
  entry["ts"] = log::NowRfc3339();
  entry["writer"] = writer_;
  entry["pid"] = static_cast<int64_t>(::getpid());
  entry["prev"] = tail.hash;
  std::string hash = EntryHash(entry);
  entry["hash"] = hash;
  std::string line = Canonical(entry) + "\n";
  next.seq = tail.seq + 1;
  next.hash = std::move(hash);
  next.entry = std::move(entry);
  return line;
}

Status AuditLog::WriteLocked(const std::string& lines, int64_t size_before) {
  size_t done = 0;
  while (done < lines.size()) {
    ssize_t n = ::write(fd_, lines.data() + done, lines.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Error failed{ErrorCode::kIo, Errno("writing audit file " + path_)};
      if (n == 0) failed.message = "writing audit file " + path_ + ": short write";
      if (done > 0) {
        // A partial line: cut it now so that the chain ends on a complete entry and the next
        // append (once space returns) continues it.
        if (::ftruncate(fd_, size_before) == 0) {
          tail_end_ = size_before;  // tail_ is still the entry that ends there
        } else {
          broken_ = true;
          good_size_ = size_before;
          tail_end_ = -1;
        }
      }
      return std::unexpected(failed);
    }
    done += static_cast<size_t>(n);
  }
  tail_end_ = size_before + static_cast<int64_t>(lines.size());
  return Ok();
}

Result<uint64_t> AuditLog::Append(std::string_view event, const json& fields) {
  uint64_t seq = 0;
  CA_TRY(AppendBatch([&](const json& last) -> Result<std::vector<AuditEvent>> {
    // CurrentTail checked the last entry (its seq an unsigned integer); null: empty file.
    seq = (last.is_object() ? last.value("seq", uint64_t{0}) : 0) + 1;
    return std::vector<AuditEvent>{AuditEvent{std::string(event), fields}};
  }));
  return seq;
}

Result<uint64_t> AuditLog::AppendDurable(std::string_view event, const json& fields) {
  uint64_t seq = 0;
  size_t appended = 0;
  uint64_t ticket = CA_TRY(AppendTicket(
      [&](const json& last) -> Result<std::vector<AuditEvent>> {
        seq = (last.is_object() ? last.value("seq", uint64_t{0}) : 0) + 1;
        return std::vector<AuditEvent>{AuditEvent{std::string(event), fields}};
      },
      &appended));
  CA_TRY_STATUS(SyncThrough(ticket));
  return seq;
}

Result<size_t> AuditLog::AppendBatch(const BatchFn& make) {
  size_t appended = 0;
  CA_TRY(AppendTicket(make, &appended));
  return appended;
}

Result<uint64_t> AuditLog::AppendTicket(const BatchFn& make, size_t* appended) {
  std::lock_guard guard(mu_);
  FileLock lock(fd_);
  CA_TRY_STATUS(lock.Lock());
  if (broken_) {
    if (::ftruncate(fd_, good_size_) != 0) {
      if (errno != EPERM)
        return Fail(ErrorCode::kIo, Errno("cutting the partial last line of audit file " + path_));
      CA_TRY_STATUS(SealFragment(good_size_));  // append-only file
    }
    broken_ = false;
  }
  auto [tail, size] = CA_TRY(CurrentTail());
  std::vector<AuditEvent> events = CA_TRY(make(tail.entry));
  *appended = 0;
  if (events.empty()) return uint64_t{0};
  std::string lines;
  Tail cur = tail;
  for (const auto& e : events) {
    Tail next;
    lines += CA_TRY(MakeLine(cur, e, next));
    cur = std::move(next);
  }
  CA_TRY_STATUS(WriteLocked(lines, size));
  tail_ = std::move(cur);
  *appended = events.size();
  return ++appended_;
}

Status AuditLog::Sync() {
  uint64_t ticket = 0;
  {
    std::lock_guard guard(mu_);
    ticket = appended_;
  }
  return SyncThrough(ticket);
}

Status AuditLog::SyncThrough(uint64_t ticket) {
  auto lost = [&] {
    for (auto [first, last] : lost_)
      if (ticket >= first && ticket <= last) return true;
    return false;
  };
  std::unique_lock lock(sync_mu_);
  for (;;) {
    if (lost())
      return Fail(ErrorCode::kIo,
                  "fdatasync of audit file " + path_ + " failed: entry not durable");
    if (ticket <= synced_) return Ok();
    if (!syncing_) break;
    sync_cv_.wait(lock);
  }
  syncing_ = true;
  uint64_t target = 0;
  int64_t target_size = -1;
  {
    std::lock_guard guard(mu_);
    target = appended_;
    target_size = tail_end_;
  }
  lock.unlock();
  int rc = ::fdatasync(fd_);
  std::string error = rc == 0 ? "" : Errno("fdatasync " + path_);
  uint64_t dropped = rc == 0 ? 0 : DropUnsynced();
  lock.lock();
  syncing_ = false;
  if (rc == 0) {
    synced_ = std::max(synced_, target);
    std::lock_guard guard(mu_);
    if (target_size >= 0) synced_size_ = target_size;
  } else {
    lost_.push_back({synced_ + 1, dropped});
  }
  sync_cv_.notify_all();
  if (rc != 0) return Fail(ErrorCode::kIo, error);
  return Ok();
}

uint64_t AuditLog::DropUnsynced() {
  std::lock_guard guard(mu_);
  FileLock lock(fd_);
  struct stat st {};
  // After a failed fdatasync the kernel may have dropped the unsynced pages: cut back to what is
  // known durable, unless another writer appended since (its entries chain from ours).
  if (lock.Lock() && synced_size_ >= 0 && ::fstat(fd_, &st) == 0 && st.st_size == tail_end_ &&
      ::ftruncate(fd_, synced_size_) == 0) {
    log::Error("audit_unsynced_dropped", {{"path", path_}, {"size", synced_size_}});
  }
  tail_end_ = -1;  // re-read the tail from the file
  return appended_;
}

Status AuditLog::SealFragment(int64_t good_size) {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return Fail(ErrorCode::kIo, Errno("fstat " + path_));
  std::string fragment(static_cast<size_t>(st.st_size - good_size), '\0');
  if (::pread(fd_, fragment.data(), fragment.size(), good_size) !=
      static_cast<ssize_t>(fragment.size()))
    return Fail(ErrorCode::kIo, Errno("reading audit file " + path_));
  Tail tail;
  auto [line, complete] = CA_TRY(ReadLastLine(fd_, good_size));
  if (good_size > 0) {
    json entry;
    if (std::string problem = CheckEntry(line, entry); !problem.empty() || !complete)
      return Fail(ErrorCode::kCorrupt,
                  "audit file " + path_ + ": the entry before a torn line is corrupt");
    tail.seq = entry["seq"].get<uint64_t>();
    tail.hash = entry["hash"].get<std::string>();
    tail.entry = std::move(entry);
  }
  Tail next;
  std::string repair = CA_TRY(MakeLine(
      tail,
      AuditEvent{"audit_tail_repaired",
                 {{"torn_bytes", fragment.size()}, {"torn_sha256", HexEncode(Sha256(fragment))}}},
      next));
  std::string bytes = "\n" + repair;
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      tail_end_ = -1;  // still broken: the next append seals again, from the same good size
      return Fail(ErrorCode::kIo, Errno("sealing a torn line of audit file " + path_));
    }
    done += static_cast<size_t>(n);
  }
  tail_ = std::move(next);
  tail_end_ = st.st_size + static_cast<int64_t>(bytes.size());
  ++appended_;
  return Ok();
}

Result<int64_t> AuditLog::Size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return Fail(ErrorCode::kIo, Errno("fstat " + path_));
  return static_cast<int64_t>(st.st_size);
}

Status AuditLog::ScanFrom(int64_t offset, const std::function<void(const json&)>& fn) const {
  int64_t size = CA_TRY(Size());
  int64_t start = std::clamp<int64_t>(offset, 0, size);
  if (start > 0) {  // back to the start of the line that holds `start`
    auto [line, complete] = CA_TRY(ReadLastLine(fd_, start));
    if (!complete) start -= static_cast<int64_t>(line.size());
  }
  std::string pending;
  const size_t kChunk = 1 << 20;
  for (int64_t at = start; at < size;) {
    std::string chunk(static_cast<size_t>(std::min<int64_t>(kChunk, size - at)), '\0');
    ssize_t n = ::pread(fd_, chunk.data(), chunk.size(), at);
    if (n <= 0) return Fail(ErrorCode::kIo, Errno("reading audit file " + path_));
    at += n;
    pending.append(chunk.data(), static_cast<size_t>(n));
    size_t begin = 0;
    for (size_t nl; (nl = pending.find('\n', begin)) != std::string::npos; begin = nl + 1) {
      json entry = json::parse(std::string_view(pending).substr(begin, nl - begin), nullptr, false);
      if (entry.is_object()) fn(entry);
    }
    pending.erase(0, begin);
  }
  return Ok();
}

namespace {

VerifyReport VerifyStream(std::istream& in) {
  VerifyReport r;
  std::string expected_prev{kGenesisHash};
  uint64_t expected_seq = 1;
  uint64_t line_no = 0;
  std::string line;
  // Lines that are not JSON, kept until the next entry says whether they are a sealed torn write.
  std::vector<std::pair<uint64_t, std::string>> torn;
  auto flush_torn = [&] {
    for (const auto& t : torn) r.problems.push_back({t.first, "not a JSON object"});
    expected_seq += torn.size();
    torn.clear();
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (in.eof()) {
      flush_torn();
      r.problems.push_back(
          {line_no, "incomplete last line (no newline): torn write or truncated file"});
      break;
    }
    ++r.entries;
    json entry;
    std::string problem = CheckEntry(line, entry);
    if (problem == "not a JSON object") {
      torn.push_back({line_no, line});
      continue;
    }
    if (!torn.empty()) {
      std::string bytes;
      for (size_t i = 0; i < torn.size(); ++i) bytes += (i == 0 ? "" : "\n") + torn[i].second;
      bool sealed = problem.empty() && entry["event"] == "audit_tail_repaired" &&
                    entry.value("torn_sha256", "") == HexEncode(Sha256(bytes));
      if (sealed) {
        r.entries -= torn.size();
        torn.clear();
      } else {
        flush_torn();
      }
    }
    if (!problem.empty()) {
      r.problems.push_back({line_no, problem});
      // Chain on from what the line claims, when it says anything, so that one edit is one report.
      if (entry.is_object() && IsHex64(entry.value("hash", json())))
        expected_prev = entry["hash"].get<std::string>();
      if (entry.is_object() && entry.value("seq", json()).is_number_unsigned()) {
        expected_seq = entry["seq"].get<uint64_t>() + 1;
      } else {
        ++expected_seq;
      }
      continue;
    }
    uint64_t seq = entry["seq"].get<uint64_t>();
    const auto& prev = entry["prev"].get_ref<const std::string&>();
    if (prev != expected_prev) {
      r.problems.push_back(
          {line_no, line_no == 1
                        ? "prev is not the genesis hash (the start of the file is missing)"
                        : "prev does not match the hash of line " + std::to_string(line_no - 1) +
                              " (a line was deleted, inserted or reordered)"});
    }
    if (seq != expected_seq) {
      r.problems.push_back(
          {line_no, "seq " + std::to_string(seq) + ", expected " + std::to_string(expected_seq)});
    }
    if (r.first_seq == 0) r.first_seq = seq;
    r.last_seq = seq;
    expected_seq = seq + 1;
    expected_prev = entry["hash"].get<std::string>();
    r.last_hash = expected_prev;
  }
  flush_torn();
  return r;
}

}  // namespace

VerifyReport VerifyText(std::string_view text) {
  std::istringstream in{std::string(text)};
  return VerifyStream(in);
}

Result<VerifyReport> VerifyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Fail(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                Errno("cannot read " + path));
  return VerifyStream(in);
}

}  // namespace ca::audit
