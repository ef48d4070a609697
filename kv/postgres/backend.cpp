// Placeholder until the PostgreSQL engine (helper pgkv) lands: this build opens no pg: location.
#include "kv/postgres/backend.h"

namespace ca::kv::postgres {

Result<std::unique_ptr<EnvBackend>> OpenBackend(const EnvOptions& options) {
  return Fail(ErrorCode::kFailedPrecondition,
              "this build has no PostgreSQL store engine (" + options.location + ")");
}

}  // namespace ca::kv::postgres
