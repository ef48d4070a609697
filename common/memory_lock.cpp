#include "common/memory_lock.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "common/log.h"

namespace ca {

namespace {

std::string LimitText() {
  struct rlimit lim {};
  if (::getrlimit(RLIMIT_MEMLOCK, &lim) != 0) return "unknown";
  if (lim.rlim_cur == RLIM_INFINITY) return "unlimited";
  return std::to_string(lim.rlim_cur / 1024) + " KiB";
}

}  // namespace

std::string MemoryNotLockedMessage(int err, std::string_view unit) {
  std::string unit_name(unit);
  return "memory not locked (mlockall: " + std::string(std::strerror(err)) + ", RLIMIT_MEMLOCK " +
         LimitText() +
         "): the PIN and key material in this process could be swapped to disk; everything still "
         "works. To lock it, raise the limit: LimitMEMLOCK=infinity in " +
         unit_name + " (systemctl edit " + unit_name +
         "), or `ulimit -l unlimited` in the shell that starts it by hand.";
}

void WarnIfMemoryNotLocked(std::string_view unit) {
  static std::once_flag once;
  int err = MemoryLockErrno();
  if (err <= 0) return;
  std::call_once(once, [&] {
    ca::log::Warn("memory_not_locked", {{"message", MemoryNotLockedMessage(err, unit)}});
  });
}

}  // namespace ca
