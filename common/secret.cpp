#include "common/secret.h"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/memory_lock.h"
#include "common/openssl.h"

namespace ca {

Secret::Secret(std::string value) : value_(std::move(value)) {}

Secret::~Secret() { Wipe(); }

Secret::Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.Wipe(); }

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    Wipe();
    value_ = std::move(other.value_);
    other.Wipe();
  }
  return *this;
}

void Secret::Wipe() noexcept {
  if (!value_.empty()) OPENSSL_cleanse(value_.data(), value_.size());
  value_.clear();
  value_.shrink_to_fit();
}

Result<Secret> ReadSecretFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Fail(ErrorCode::kNotFound, "secret file " + path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Fail(ErrorCode::kPermissionDenied,
                "secret file " + path + " is accessible by group or others (chmod 0400 it)");
  }
  auto content = ossl::ReadFile(path);
  if (!content) return std::unexpected(content.error());
  std::string value = std::move(*content);
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  if (value.empty()) return Fail(ErrorCode::kInvalidArgument, "secret file " + path + " is empty");
  return Secret(std::move(value));
}

Result<Secret> TakeSecretFromEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    return Fail(ErrorCode::kNotFound, std::string("environment variable ") + name + " is not set");
  }
  Secret s{std::string(v)};
  ::unsetenv(name);
  return s;
}

Result<Secret> LoadSecret(std::string_view source) {
  if (source.starts_with("file:")) return ReadSecretFile(std::string(source.substr(5)));
  if (source.starts_with("env:")) return TakeSecretFromEnv(std::string(source.substr(4)).c_str());
  return Fail(ErrorCode::kInvalidArgument,
              "secret source must be 'file:/path' or 'env:NAME' (got '" +
                  std::string(source.substr(0, source.find(':'))) + "...')");
}

namespace {
std::atomic<int> g_memory_lock_errno{-1};
}  // namespace

void HardenProcessForSecrets() {
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  struct rlimit no_core {0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  // Best effort: unprivileged processes usually have a small RLIMIT_MEMLOCK; failure is not fatal
  // (daemons report it through MemoryLockErrno(), common/memory_lock.h).
  g_memory_lock_errno = ::mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0 ? 0 : errno;
}

int MemoryLockErrno() { return g_memory_lock_errno; }

}  // namespace ca
