// The LMDB engine behind kv::Env (kv/kv.h): a location is a directory; one Env per directory per
// process; default durability. The RAII over LMDB itself is common/lmdb.h.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "kv/kv.h"

namespace ca::kv::lmdb_env {

// The canonical directory and the backend; refuses what common/lmdb.h's Env::Open refuses.
Result<std::pair<std::string, std::unique_ptr<EnvBackend>>> OpenBackend(const EnvOptions& options);

}  // namespace ca::kv::lmdb_env
