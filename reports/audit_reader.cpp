#include "reports/audit_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/audit_log.h"
#include "common/encoding.h"
#include "common/log.h"

namespace ca::reports {

using nlohmann::json;

namespace {

// Closes the descriptor at scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool IsHex64(const json& entry, const char* key) {
  auto it = entry.find(key);
  if (it == entry.end() || !it->is_string()) return false;
  const auto& s = it->get_ref<const std::string&>();
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

AuditReader::AuditReader(std::string source, std::string path)
    : source_(std::move(source)), path_(std::move(path)), last_hash_(audit::kGenesisHash) {}

bool AuditReader::Break(const std::string& what) {
  problem_ = path_ + " line " + std::to_string(line_) + ": " + what;
  log::Error("audit_chain_broken", {{"file", path_}, {"problem", problem_}});
  return false;
}

bool AuditReader::TakeLine(std::string_view line, std::vector<json>& out) {
  ++line_;
  json entry = json::parse(line, nullptr, false);
  if (entry.is_discarded() || !entry.is_object()) {
    if (torn_.empty()) torn_line_ = line_;
    torn_.emplace_back(line);  // a torn write, if an audit_tail_repaired entry seals it next
    return true;
  }
  if (!entry.contains("seq") || !entry["seq"].is_number_unsigned() || !entry.contains("event") ||
      !entry["event"].is_string() || !IsHex64(entry, "prev") || !IsHex64(entry, "hash"))
    return Break("not an audit entry (seq, event, prev, hash)");
  if (audit::Canonical(entry) != line) return Break("not in canonical form (the line was edited)");
  if (audit::EntryHash(entry) != entry["hash"].get<std::string>())
    return Break("hash does not match the entry (the entry was modified)");
  if (!torn_.empty()) {
    std::string bytes;
    for (size_t i = 0; i < torn_.size(); ++i) bytes += (i == 0 ? "" : "\n") + torn_[i];
    if (entry["event"] != "audit_tail_repaired" ||
        entry.value("torn_sha256", "") != HexEncode(Sha256(bytes))) {
      line_ = torn_line_;
      return Break("not a JSON object");
    }
    torn_.clear();
  }
  if (entry["prev"].get<std::string>() != last_hash_)
    return Break("prev does not match the previous entry (a line was deleted, inserted or moved)");
  uint64_t seq = entry["seq"].get<uint64_t>();
  if (seq != last_seq_ + 1)
    return Break("seq " + std::to_string(seq) + ", expected " + std::to_string(last_seq_ + 1));
  last_seq_ = seq;
  last_hash_ = entry["hash"].get<std::string>();
  out.push_back(std::move(entry));
  return true;
}

Status AuditReader::ReadNew(std::vector<json>& out, size_t max_bytes) {
  drained_ = true;
  if (!problem_.empty()) return Fail(ErrorCode::kCorrupt, problem_);
  Fd file{::open(path_.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) {
    if (errno == ENOENT && offset_ == 0) return Ok();  // nothing written yet
    return Fail(ErrorCode::kIo, "cannot read " + path_ + ": " + std::strerror(errno));
  }
  struct stat st{};
  if (::fstat(file.fd, &st) != 0)
    return Fail(ErrorCode::kIo, "cannot stat " + path_ + ": " + std::strerror(errno));
  if (st.st_size < offset_) {
    Break("the file is shorter than what was already read (truncated or replaced)");
    return Fail(ErrorCode::kCorrupt, problem_);
  }
  // In chunks, so that a year of audit trail is not held in memory at once; `pending` is the
  // tail of the last chunk that does not end a line yet.
  constexpr size_t kChunk = 4 << 20;
  std::string pending;
  int64_t pos = offset_;
  const int64_t first = offset_;
  while (pos < st.st_size) {
    if (offset_ - first >= static_cast<int64_t>(max_bytes)) {
      drained_ = false;  // the caller takes these in, then reads on
      break;
    }
    const size_t want = static_cast<size_t>(
        std::min<int64_t>(std::min(kChunk, std::max<size_t>(max_bytes, 1)), st.st_size - pos));
    const size_t had = pending.size();
    pending.resize(had + want);
    ssize_t n = ::pread(file.fd, pending.data() + had, want, static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) {
      pending.resize(had);
      continue;
    }
    if (n < 0) return Fail(ErrorCode::kIo, "cannot read " + path_ + ": " + std::strerror(errno));
    pending.resize(had + static_cast<size_t>(n));
    if (n == 0) break;
    pos += n;
    size_t start = 0;
    for (size_t nl = pending.find('\n', had); nl != std::string::npos;
         nl = pending.find('\n', start)) {
      if (!TakeLine(std::string_view(pending).substr(start, nl - start), out))
        return Fail(ErrorCode::kCorrupt, problem_);
      offset_ += static_cast<int64_t>(nl + 1 - start);
      start = nl + 1;
    }
    pending.erase(0, start);
  }
  return Ok();
}

}  // namespace ca::reports
