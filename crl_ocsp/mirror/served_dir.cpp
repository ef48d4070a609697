#include "crl_ocsp/mirror/served_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "crl_ocsp/mirror/manifest.h"

namespace ca::crl_ocsp::mirror {
namespace {

constexpr int kMaxDepth = 64;

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

std::string Errno(std::string_view what, std::string_view path) {
  return std::string(what) + " " + std::string(path) + ": " + std::strerror(errno);
}

std::vector<std::string> SplitPath(std::string_view rel) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    if (end > start) parts.emplace_back(rel.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

UniqueFd OpenDirNoFollow(int parent, const std::string& name) {
  return UniqueFd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// The names in a directory (without "." and "..").
Result<std::vector<std::string>> ListNames(int dirfd, std::string_view where) {
  int copy = ::dup(dirfd);
  if (copy < 0) return Fail(ErrorCode::kIo, Errno("cannot dup", where));
  DirPtr dir(::fdopendir(copy));
  if (!dir) {
    ::close(copy);
    return Fail(ErrorCode::kIo, Errno("cannot list", where));
  }
  ::rewinddir(dir.get());
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir.get())) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  return names;
}

Status RemoveEntry(int parent, const std::string& name, std::string_view where, int depth);

Status RemoveTree(int parent, const std::string& name, std::string_view where, int depth) {
  if (depth > kMaxDepth)
    return Fail(ErrorCode::kIo, "directory tree too deep at " + std::string(where));
  UniqueFd dir = OpenDirNoFollow(parent, name);
  if (!dir) return Fail(ErrorCode::kIo, Errno("cannot open", where));
  for (const auto& child : CA_TRY(ListNames(dir.get(), where)))
    CA_TRY_STATUS(RemoveEntry(dir.get(), child, where, depth + 1));
  if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return Fail(ErrorCode::kIo, Errno("cannot remove directory", where));
  return Ok();
}

// Removes a file, symlink or whole directory named `name` in `parent`, without following links.
Status RemoveEntry(int parent, const std::string& name, std::string_view where, int depth) {
  struct stat st {};
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? Ok() : Fail(ErrorCode::kIo, Errno("cannot stat", where));
  if (S_ISDIR(st.st_mode)) return RemoveTree(parent, name, where, depth);
  if (::unlinkat(parent, name.c_str(), 0) != 0 && errno != ENOENT)
    return Fail(ErrorCode::kIo, Errno("cannot remove", where));
  return Ok();
}

// Opens the directories of `parts` (all but the last component) under root, one by one without
// following links. With `create`, missing ones are made and anything else in the way (a file, a
// symlink) is removed; without, a missing or odd component gives an empty vector.
Result<std::vector<UniqueFd>> OpenParents(int root, const std::vector<std::string>& parts,
                                          bool create, std::string_view rel) {
  std::vector<UniqueFd> chain;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int parent = i == 0 ? root : chain.back().get();
    UniqueFd next = OpenDirNoFollow(parent, parts[i]);
    if (!next) {
      if (!create) return std::vector<UniqueFd>{};
      if (errno != ENOENT) CA_TRY_STATUS(RemoveEntry(parent, parts[i], rel, 0));
      if (::mkdirat(parent, parts[i].c_str(), 0755) != 0 && errno != EEXIST)
        return Fail(ErrorCode::kIo, Errno("cannot create a directory for", rel));
      next = OpenDirNoFollow(parent, parts[i]);
      if (!next) return Fail(ErrorCode::kIo, Errno("cannot open a directory of", rel));
    }
    chain.push_back(std::move(next));
  }
  return chain;
}

Status WriteAll(int fd, std::span<const uint8_t> bytes, std::string_view rel) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(ErrorCode::kIo, Errno("cannot write", rel));
    off += static_cast<size_t>(n);
  }
  return Ok();
}

// Walks a directory: keeps regular files listed in `keep`, removes everything else and
// directories left empty. `kept` counts what stays in this directory.
Status SweepDir(int dirfd, const std::string& prefix,
                const std::set<std::string, std::less<>>& keep, int depth, size_t& removed,
                size_t& kept) {
  if (depth > kMaxDepth) return Fail(ErrorCode::kIo, "directory tree too deep at " + prefix);
  for (const auto& name : CA_TRY(ListNames(dirfd, prefix.empty() ? "." : prefix))) {
    std::string rel = prefix + name;
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      return Fail(ErrorCode::kIo, Errno("cannot stat", rel));
    }
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub = OpenDirNoFollow(dirfd, name);
      if (!sub) return Fail(ErrorCode::kIo, Errno("cannot open", rel));
      size_t sub_kept = 0;
      CA_TRY_STATUS(SweepDir(sub.get(), rel + "/", keep, depth + 1, removed, sub_kept));
      if (sub_kept == 0) {
        if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0)
          return Fail(ErrorCode::kIo, Errno("cannot remove directory", rel));
      } else {
        ++kept;
      }
      continue;
    }
    if (S_ISREG(st.st_mode) && keep.contains(rel)) {
      ++kept;
      continue;
    }
    if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT)
      return Fail(ErrorCode::kIo, Errno("cannot remove", rel));
    ++removed;
  }
  return Ok();
}

}  // namespace

void UniqueFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<ServedDir> ServedDir::Open(const std::string& root) {
  UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Fail(ErrorCode::kNotFound, Errno("cannot open the served directory", root));
  auto names = CA_TRY(ListNames(fd.get(), root));
  struct stat st {};
  bool has_manifest =
      ::fstatat(fd.get(), std::string(kManifestName).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISREG(st.st_mode);
  if (!names.empty() && !has_manifest)
    return Fail(ErrorCode::kFailedPrecondition,
                "the served directory " + root +
                    " is not empty and has no manifest.json: not a mirror directory (its contents "
                    "would be deleted)");
  return ServedDir(root, std::move(fd));
}

Status ServedDir::Install(std::string_view rel, std::span<const uint8_t> bytes) {
  std::vector<std::string> parts = SplitPath(rel);
  if (parts.empty()) return Fail(ErrorCode::kInvalidArgument, "empty path");
  auto chain = CA_TRY(OpenParents(fd_.get(), parts, true, rel));
  int dir = chain.empty() ? fd_.get() : chain.back().get();
  const std::string& name = parts.back();
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
    CA_TRY_STATUS(RemoveTree(dir, name, rel, 0));
  std::string tmp = ".mirror-tmp-" + HexEncode(RandomBytes(8));
  UniqueFd out(
      ::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!out) return Fail(ErrorCode::kIo, Errno("cannot create a temporary file for", rel));
  Status written = WriteAll(out.get(), bytes, rel);
  if (written && (::fchmod(out.get(), 0644) != 0 || ::fsync(out.get()) != 0))
    written = Fail(ErrorCode::kIo, Errno("cannot sync", rel));
  if (written && ::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0)
    written = Fail(ErrorCode::kIo, Errno("cannot rename into", rel));
  if (!written) {
    ::unlinkat(dir, tmp.c_str(), 0);
    return written;
  }
  if (::fsync(dir) != 0) return Fail(ErrorCode::kIo, Errno("cannot sync the directory of", rel));
  return Ok();
}

Status ServedDir::Remove(std::string_view rel) {
  std::vector<std::string> parts = SplitPath(rel);
  if (parts.empty()) return Ok();
  auto chain = CA_TRY(OpenParents(fd_.get(), parts, false, rel));
  if (chain.size() + 1 != parts.size()) return Ok();  // a parent is missing: nothing to remove
  int dir = chain.empty() ? fd_.get() : chain.back().get();
  CA_TRY_STATUS(RemoveEntry(dir, parts.back(), rel, 0));
  for (size_t i = chain.size(); i > 0; --i) {  // parents left empty, deepest first
    int parent = i == 1 ? fd_.get() : chain[i - 2].get();
    if (::unlinkat(parent, parts[i - 1].c_str(), AT_REMOVEDIR) != 0) break;  // not empty
  }
  return Ok();
}

Result<std::optional<Bytes>> ServedDir::Read(std::string_view rel, size_t max_bytes) const {
  std::vector<std::string> parts = SplitPath(rel);
  if (parts.empty()) return std::optional<Bytes>();
  auto chain = CA_TRY(OpenParents(fd_.get(), parts, false, rel));
  if (chain.size() + 1 != parts.size()) return std::optional<Bytes>();
  int dir = chain.empty() ? fd_.get() : chain.back().get();
  UniqueFd in(::openat(dir, parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in) return std::optional<Bytes>();
  struct stat st {};
  if (::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::optional<Bytes>();
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    return Fail(ErrorCode::kResourceExhausted, std::string(rel) + " is larger than the limit");
  Bytes out(static_cast<size_t>(st.st_size) + 1);  // one more byte shows a file that grew
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::read(in.get(), out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(ErrorCode::kIo, Errno("cannot read", rel));
    if (n == 0) break;
    off += static_cast<size_t>(n);
  }
  out.resize(off);
  return std::optional<Bytes>(std::move(out));
}

Result<size_t> ServedDir::Sweep(const std::set<std::string, std::less<>>& keep) {
  size_t removed = 0, kept = 0;
  CA_TRY_STATUS(SweepDir(fd_.get(), "", keep, 0, removed, kept));
  return removed;
}

}  // namespace ca::crl_ocsp::mirror
