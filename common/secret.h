// Secrets (PINs, MAC keys, wrapping keys): zeroed on destruction, never printed, never in argv.
// A secret comes from a file (mode must deny group/other access) or an environment variable.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ca {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value);
  ~Secret();
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  std::string_view view() const { return value_; }
  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(value_.data()); }
  size_t size() const { return value_.size(); }
  bool empty() const { return value_.empty(); }

 private:
  void Wipe() noexcept;
  std::string value_;
};

// Reads a secret file; trailing "\n" / "\r\n" is stripped. Refuses files readable or writable by
// group or other (the PIN file must be 0400/0600 for its service account).
Result<Secret> ReadSecretFile(const std::string& path);

// Reads a secret from an environment variable and removes it from the environment so that child
// processes and /proc/self/environ do not keep it.
Result<Secret> TakeSecretFromEnv(const char* name);

// "file:/path" or "env:NAME" — the form every config uses to point at a secret.
Result<Secret> LoadSecret(std::string_view source);

// Stops this process from writing core dumps and being ptrace-attached by non-root (PR_SET_DUMPABLE 0),
// and locks current and future memory when allowed. Called early by processes that hold secrets.
void HardenProcessForSecrets();

}  // namespace ca
