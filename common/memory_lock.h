// What HardenProcessForSecrets() (common/secret.h) achieved when it locked the process's memory
// out of swap (mlockall). Kept out of secret.h so that daemons can report it without every
// includer of secret.h depending on it.
#pragma once

namespace ca {

// 0 when mlockall succeeded; its errno when it failed (ENOMEM: RLIMIT_MEMLOCK too small, EPERM:
// not allowed); -1 when HardenProcessForSecrets() has not run.
int MemoryLockErrno();

}  // namespace ca
