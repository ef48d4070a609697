// The directory a replica's web server serves, owned by the mirror: files are written atomically
// (temporary file, fsync, rename, fsync of the directory) and reached with openat() one component
// at a time with O_NOFOLLOW, so a symbolic link planted in the directory (or left by an old
// layout) is never followed: it is removed and replaced by a real directory. ossl::WriteFileAtomic
// takes a whole path and would follow such a link.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/result.h"

namespace ca::crl_ocsp::mirror {

// A file descriptor closed at scope exit.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  void Reset();
  int fd_ = -1;
};

class ServedDir {
 public:
  // Opens an existing directory. Refuses one that holds anything but has no manifest.json: it is
  // not a mirror directory, and Sweep would delete its contents.
  static Result<ServedDir> Open(const std::string& root);

  // Writes `rel` (a NormalizeExportPath path) atomically with mode 0644, creating directories
  // (0755) on the way; a symlink, file or directory in the way is removed first (the caller has
  // checked that the manifest does not list it).
  Status Install(std::string_view rel, std::span<const uint8_t> bytes);

  // Removes `rel` if present, then its parent directories that became empty.
  Status Remove(std::string_view rel);

  // The file's bytes, nullopt if absent (or not a regular file, or reached through a symlink);
  // kResourceExhausted beyond max_bytes.
  Result<std::optional<Bytes>> Read(std::string_view rel, size_t max_bytes) const;

  // Removes every entry under the root that is not a regular file listed in `keep` (paths
  // relative to the root): old files, leftover temporary files, symlinks, empty directories.
  // Returns how many files were removed.
  Result<size_t> Sweep(const std::set<std::string, std::less<>>& keep);

  const std::string& root() const { return root_; }

 private:
  ServedDir(std::string root, UniqueFd fd) : root_(std::move(root)), fd_(std::move(fd)) {}
  std::string root_;
  UniqueFd fd_;
};

}  // namespace ca::crl_ocsp::mirror
