// OpenSSL writes to sockets with write(2), which raises SIGPIPE when the peer has gone. Libraries
// must not change the process's signal disposition, so code that lets OpenSSL touch a socket holds a
// ScopedSigpipeBlock: SIGPIPE is blocked in this thread meanwhile, and a SIGPIPE raised in that time
// is consumed before unblocking (the write itself fails with EPIPE, which the caller reports).
#pragma once

#include <signal.h>

namespace ca {

class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock();
  ~ScopedSigpipeBlock();
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_{}, old_{};
  bool was_pending_ = false;
};

}  // namespace ca
