#include "crl_ocsp/export/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace ca::crl_ocsp::exporter {

namespace {

namespace fs = std::filesystem;

std::unexpected<Error> Errno(std::string_view what, const std::string& path) {
  return Fail(ErrorCode::kIo, std::string(what) + " " + path + ": " + std::strerror(errno));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Status SyncDirectory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return Errno("open directory", dir);
  if (::fsync(fd.get()) != 0) return Errno("fsync directory", dir);
  return {};
}

Status MakeDirectories(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Fail(ErrorCode::kIo, "create directory " + dir.string() + ": " + ec.message());
  return {};
}

// A relative path inside the export: no absolute path, no "." or ".." segment.
Status CheckRelative(std::string_view relative) {
  if (relative.empty() || relative.front() == '/' || relative.back() == '/') {
    return Fail(ErrorCode::kInvalidArgument, "bad export path " + std::string(relative));
  }
  for (const auto& part : fs::path(relative)) {
    if (part == "." || part == "..") {
      return Fail(ErrorCode::kInvalidArgument, "bad export path " + std::string(relative));
    }
  }
  return {};
}

Status WriteAll(int fd, std::span<const uint8_t> data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write", path);
    done += static_cast<size_t>(n);
  }
  return {};
}

std::atomic<uint64_t> temp_counter{0};

// Writes a temporary file for root/relative in root/.staging (mode 0644, mtime; fsync'd when
// `sync`); returns its path and the target's. Nothing is left behind on error.
Result<std::pair<std::string, std::string>> WriteTemp(const std::string& root,
                                                      std::string_view relative,
                                                      std::span<const uint8_t> data, Time mtime,
                                                      bool sync) {
  CA_TRY_STATUS(CheckRelative(relative));
  fs::path target = fs::path(root) / relative;
  fs::path staging = fs::path(root) / kStagingDir;
  CA_TRY_STATUS(MakeDirectories(target.parent_path()));
  CA_TRY_STATUS(MakeDirectories(staging));
  std::string temp = (staging / ("f." + std::to_string(::getpid()) + "." +
                                 std::to_string(temp_counter.fetch_add(1))))
                         .string();
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) return Errno("create", temp);
  auto written = [&]() -> Status {
    CA_TRY_STATUS(WriteAll(fd.get(), data, temp));
    if (::fchmod(fd.get(), 0644) != 0) return Errno("chmod", temp);  // whatever the umask
    struct timespec times[2] = {{static_cast<time_t>(pki::ToUnix(mtime)), 0},
                                {static_cast<time_t>(pki::ToUnix(mtime)), 0}};
    if (::futimens(fd.get(), times) != 0) return Errno("set mtime of", temp);
    if (sync && ::fsync(fd.get()) != 0) return Errno("fsync", temp);
    if (::close(fd.Release()) != 0) return Errno("close", temp);
    return {};
  }();
  if (!written) {
    ::unlink(temp.c_str());
    return std::unexpected(written.error());
  }
  return std::pair{std::move(temp), target.string()};
}

}  // namespace

Status WriteFileAtomic(const std::string& root, std::string_view relative,
                       std::span<const uint8_t> data, Time mtime) {
  auto [temp, target] = CA_TRY(WriteTemp(root, relative, data, mtime, /*sync=*/true));
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    Status failed = Errno("rename to", target);
    ::unlink(temp.c_str());
    return failed;
  }
  return SyncDirectory(fs::path(target).parent_path().string());
}

AtomicBatch::~AtomicBatch() {
  for (const Pending& p : pending_) ::unlink(p.temp.c_str());
}

Status AtomicBatch::Add(std::string_view relative, std::span<const uint8_t> data, Time mtime) {
  auto [temp, target] = CA_TRY(WriteTemp(root_, relative, data, mtime, /*sync=*/false));
  pending_.push_back({std::move(temp), std::move(target)});
  return {};
}

Status AtomicBatch::Commit() {
  if (pending_.empty()) return {};
  CA_TRY_STATUS(SyncExport(root_));  // the new contents are on disk before any rename
  while (!pending_.empty()) {
    const Pending& p = pending_.back();
    if (::rename(p.temp.c_str(), p.target.c_str()) != 0) return Errno("rename to", p.target);
    pending_.pop_back();
  }
  return SyncExport(root_);  // and the renames before anything describes them
}

Status SyncExport(const std::string& root) {
  Fd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return Errno("open directory", root);
  if (::syncfs(fd.get()) != 0) return Errno("syncfs", root);
  return {};
}

Status RemoveExportedFile(const std::string& root, std::string_view relative) {
  CA_TRY_STATUS(CheckRelative(relative));
  fs::path target = fs::path(root) / relative;
  if (::unlink(target.c_str()) != 0 && errno != ENOENT) return Errno("remove", target.string());
  fs::path top = fs::path(root) / *fs::path(relative).begin();
  for (fs::path dir = target.parent_path(); dir != top && dir.string().size() > top.string().size();
       dir = dir.parent_path()) {
    if (::rmdir(dir.c_str()) != 0) break;  // not empty (or already gone): its parents are not empty
  }
  return {};
}

}  // namespace ca::crl_ocsp::exporter
