// The RA side of dashboard credentials (admin.h): issue, store the hash, audit.
#include "profiles/policy/admin/admin.h"
#include "profiles/policy/dashboard_credential.h"

namespace ca::profiles::policy::admin {

using nlohmann::json;

Result<IssuedDashboardCredential> IssueAccountDashboardCredential(const AdminContext& ctx,
                                                                  const std::string& kid) {
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  auto found = w.FindExternalAccount(kid);
  if (!found) return Fail(ErrorCode::kNotFound, "unknown external account " + kid);
  ExternalAccount a = *found;
  bool replaced = !a.dashboard_credential_sha256.empty();
  Secret credential = NewDashboardCredential(kid);
  a.dashboard_credential_sha256 = DashboardCredentialHash(credential.view());
  a.dashboard_credential_issued_at = ctx.now;
  a.updated_at = ctx.now;
  CA_TRY_STATUS(w.PutExternalAccount(a));
  json before = replaced ? json{{"dashboard_credential_issued_at",
                                 found->dashboard_credential_issued_at}}
                         : json(nullptr);
  CA_TRY_STATUS(w.Audit("ext-account.dashboard-credential", "external_account", kid, kid, "",
                        std::move(before), json{{"dashboard_credential_issued_at", ctx.now}}));
  CA_TRY_STATUS(w.Commit());
  return IssuedDashboardCredential{kid, std::move(credential)};
}

Result<IssuedDashboardCredential> IssueOperatorDashboardCredential(const AdminContext& ctx,
                                                                   const std::string& name) {
  if (!IsOperatorName(name)) {
    return Fail(ErrorCode::kInvalidArgument,
                "operator name '" + name + "' must be 1 to 32 of a-z 0-9 _ -");
  }
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  bool replaced = w.DashboardOperatorCredentialHash(name).has_value();
  Secret credential = NewDashboardCredential(std::string(kOperatorCredentialPrefix) + name);
  CA_TRY_STATUS(
      w.PutDashboardOperatorCredentialHash(name, DashboardCredentialHash(credential.view())));
  CA_TRY_STATUS(w.Audit("dashboard.operator-credential", "dashboard_operator", name, "", "",
                        replaced ? json{{"operator", name}} : json(nullptr),
                        json{{"operator", name}, {"issued_at", ctx.now}}));
  CA_TRY_STATUS(w.Commit());
  return IssuedDashboardCredential{name, std::move(credential)};
}

}  // namespace ca::profiles::policy::admin
