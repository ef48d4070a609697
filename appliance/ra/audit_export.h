// The RA's side of the hash-chained audit file (common/audit_log.h): the policy store keeps every
// change's audit record in LMDB (POL-8); after each change, ca-ra appends the records the file
// does not hold yet, as "policy_change" entries carrying the record's content.
#pragma once

#include <string>

#include "common/result.h"
#include "profiles/policy/store.h"

namespace ca::appliance::ra {

// Appends, under the audit file's lock, one entry per policy audit record whose seq is above the
// "policy_audit_seq" of the file's last entry: concurrent ca-ra runs append each record once, in
// seq order, and a run that failed to append is caught up by the next one. fdatasync before
// returning. Returns the number of entries appended.
Result<size_t> ExportPolicyAudit(const profiles::policy::PolicyStore& store, const std::string& audit_path);

}  // namespace ca::appliance::ra
