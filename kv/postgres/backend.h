// The PostgreSQL engine behind kv::Env (kv/kv.h), for the appliance pair (issue 20). The only code
// of the repository that talks libpq is under kv/postgres/.
//
// Location: "pg:<service>/<namespace>": libpq connection service <service> (pg_service.conf,
// found through PGSERVICEFILE or libpq's defaults: hosts with target_session_attrs=read-write,
// database, user, passfile) and <namespace>, the store's name in that database ([a-z0-9_-]{1,48}).
#pragma once

#include <memory>

#include "kv/kv.h"

namespace ca::kv::postgres {

Result<std::unique_ptr<EnvBackend>> OpenBackend(const EnvOptions& options);

}  // namespace ca::kv::postgres
