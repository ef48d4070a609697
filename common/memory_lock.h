// What HardenProcessForSecrets() (common/secret.h) achieved when it locked the process's memory
// out of swap (mlockall), and the one warning daemons log when it could not. Kept out of secret.h
// so that daemons can report it without every includer of secret.h depending on it.
#pragma once

#include <string>
#include <string_view>

namespace ca {

// 0 when mlockall succeeded; its errno when it failed (ENOMEM: RLIMIT_MEMLOCK too small, EPERM:
// not allowed); -1 when HardenProcessForSecrets() has not run.
int MemoryLockErrno();

// The text of the warning for mlockall's errno `err`: what it means (secrets could be swapped to
// disk, nothing else changes) and how to raise the limit (`unit`'s LimitMEMLOCK=, or ulimit -l).
std::string MemoryNotLockedMessage(int err, std::string_view unit);

// When HardenProcessForSecrets() could not lock the memory: logs the warning above as one line
// (event memory_not_locked, level warn), at most once per process however often it is called.
void WarnIfMemoryNotLocked(std::string_view unit);

}  // namespace ca
