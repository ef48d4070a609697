// ca-ra's command line: the arguments, the two error kinds (a usage error exits 2, a failed command
// exits 1 with its one-line message) and the Cli object that runs one command. Each command group
// is in its own file: cmd_org.cpp, cmd_ext_account.cpp, cmd_domain.cpp, cmd_acme_account.cpp,
// cmd_cert.cpp (certificates, and the confirmation of account-wide revocations), cmd_report.cpp
// (an external account's report, from reports/);
// cli.cpp holds the settings, the stores and init / audit / dump-snapshot.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "appliance/ra/caa_check.h"
#include "appliance/ra/gateway_store.h"
#include "common/result.h"
#include "common/secret.h"
#include "profiles/policy/admin/admin.h"
#include "profiles/policy/admin/mac_rotation.h"
#include "reports/account_report.h"
#include "profiles/policy/store.h"

namespace ca::appliance::ra {

extern const char* const kUsage;

struct UsageError {
  std::string message;
};

struct Args {
  std::vector<std::string> positional;
  std::multimap<std::string, std::string> options;
  std::map<std::string, bool> flags;

  std::optional<std::string> Get(const std::string& name) const {
    auto it = options.find(name);
    if (it == options.end()) return std::nullopt;
    if (options.count(name) > 1) throw UsageError{name + " given more than once"};
    return it->second;
  }
  std::vector<std::string> All(const std::string& name) const {
    std::vector<std::string> out;
    for (auto [it, end] = options.equal_range(name); it != end; ++it) out.push_back(it->second);
    return out;
  }
  bool Flag(const std::string& name) const { return flags.contains(name); }
  const std::string& Pos(size_t i, const char* what) const {
    if (i >= positional.size()) throw UsageError{std::string("missing ") + what};
    return positional[i];
  }
};

// Throws UsageError on an unknown option or a value option without its value.
Args Parse(int argc, char** argv);
// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> SplitList(const std::string& s);

// A failed Result ends the command with its one-line message.
struct CommandError {
  std::string message;
};

template <class T>
T Must(Result<T> r) {
  if (!r) throw CommandError{r.error().message};
  return std::move(*r);
}
inline void Must(Status s) {
  if (!s) throw CommandError{s.error().message};
}

uint32_t ParseCount(const std::string& opt, const std::string& v);
// A number of days, 0 to kMaxMacRotationDays (cmd_mac_rotation.cpp).
uint32_t ParseDays(const std::string& what, const std::string& v);
// --reason as an RFC 5280 code (default 9, privilegeWithdrawn).
int ParseReason(const Args& a);

class Cli {
 public:
  explicit Cli(Args args) : a_(std::move(args)) { LoadConfig(); }
  // Runs the command, then exports the audit records of any change to the audit file.
  int Run();

 private:
  // After a write (committed or not), appends the policy store's audit records that the audit
  // file does not hold yet (appliance/ra/audit_export.h).
  void ExportAudit();
  int RunCommand();
  void LoadConfig();
  void NoExtraArgs(size_t n) const;
  // The policy store, opened on first use: for writing (the first call decides) or read-only.
  const profiles::policy::PolicyStore& Store(bool writer);
  profiles::policy::admin::AdminContext Ctx();
  static int64_t Now();
  Secret LegacyWrapKey();       // the wrapping-key file of before issue 18 (migrate-mac-keys)
  ossl::Pkey MacWrapPublicKey();  // the HSM MAC wrapping key's public half
  // The requester's RSA public key when --recipient-key is given; refuses (before anything is
  // written) when neither it nor --show-mac-key is (R22).
  std::optional<ossl::Pkey> HandOverKey();
  GatewayStore& Gateway();
  void Print(const nlohmann::json& j, const std::string& human);

  int Init();
  int MigrateMacKeys();
  int AuditCmd();
  int Dump();
  // cmd_org.cpp
  profiles::policy::admin::OrganizationFields OrgFields() const;
  int Org();
  // cmd_ext_account.cpp
  profiles::policy::admin::ExternalAccountFields ExtFields() const;
  void PrintCredentials(const profiles::policy::admin::IssuedCredentials& c, const std::string& what,
                        const std::optional<ossl::Pkey>& recipient);
  int ExtAccount();
  // cmd_mac_rotation.cpp: the scheduled MAC key rotation (R9).
  std::optional<std::string> RecipientKeyPem() const;  // --recipient-key, as the store keeps it
  void CheckRotationFields(const profiles::policy::admin::ExternalAccountFields& f,
                           const std::vector<std::string>& contacts) const;
  int RotateDue();
  // The dashboard's login (ext-account dashboard-credential KID, dashboard-credential --operator).
  void PrintDashboardCredential(const profiles::policy::admin::IssuedDashboardCredential& c,
                                bool is_operator);
  int OperatorDashboardCredential();
  // cmd_domain.cpp
  int Domain();
  bool CheckCaaBeforeWriting(const std::string& typed);
  // cmd_acme_account.cpp
  nlohmann::json AcmeJson(const GatewayAccount& g, const profiles::policy::PolicyReader& r);
  int AcmeAccount();
  // cmd_cert.cpp
  int Cert();
  // Before an account-wide revocation: the unexpired certificates it revokes (from the gateway
  // store). --dry-run prints them and returns false (do nothing); otherwise the operator confirms
  // (--yes, or typing the account id at a terminal) or the command stops with nothing changed.
  bool ConfirmAccountRevocation(const std::string& what, const std::string& id,
                                const std::vector<GatewayCertificate>& certs);
  std::vector<GatewayCertificate> UnexpiredCertificatesOf(const std::string& kid,
                                                          const std::string& acme_account_id);
  // cmd_report.cpp
  int Report();
  int Send(const reports::AccountReport& report, nlohmann::json& j, std::string& text);

  Args a_;
  bool json_ = false;
  bool wrote_ = false;  // the store was opened for writing (or created): export the audit
  std::string store_dir_, wrap_key_path_, mac_wrap_public_path_, gateway_dir_, actor_, audit_log_;
  std::string engine_audit_log_, gateway_audit_log_;  // read by `report` (with audit_log_)
  std::string report_config_;  // the reporter's config: its SMTP relay mails MAC rotations
  profiles::policy::admin::MacRotationSettings rotation_;
  std::string staging_gateway_audit_log_;             // and, with STAGING on, the staging gateway's
  std::optional<profiles::policy::PolicyStore> reader_;  // opened read-only
  std::optional<profiles::policy::admin::PolicyWriter> writer_;
  std::optional<GatewayStore> gateway_;
  CaaSettings caa_;  // caa_check.h: domain add / validate
};

}  // namespace ca::appliance::ra
