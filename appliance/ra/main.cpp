// ca-ra: the registration authority's admin CLI, the only writer of the policy store (POL-7).
// Every change is one LMDB write transaction with its audit record; bad input prints one line on
// stderr, exits 1 and changes nothing. --json prints machine-readable output on stdout.
#include <iostream>

#include "appliance/ra/cli.h"
#include "common/log.h"
#include "common/secret.h"

namespace ca::appliance::ra {

const char* const kUsage = R"(usage: ca-ra [global options] <command> ...
global options: --store DIR (or env CA_POLICY_STORE, or 'store' in --config FILE)
                --mac-wrap-public-key PEM (env CA_MAC_WRAP_PUBLIC_KEY, config 'mac_wrap_public_key'):
                  the HSM MAC wrapping key's public half (ceremony mac-wrap); new MAC keys are
                  wrapped to it and only the HSM (the engine) can use them
                --wrap-key PATH (env CA_POLICY_WRAP_KEY, config 'wrap_key'): the wrapping-key
                  file of before issue 18, read only by migrate-mac-keys
                --gateway-store DIR (env CA_GATEWAY_STORE, config 'gateway_store')
                --audit-log FILE (env CA_RA_AUDIT_LOG, config 'audit_log'): after each change,
                  its audit records are also appended to this hash-chained file (ca-audit verify-audit)
                --engine-audit-log FILE, --gateway-audit-log FILE (env CA_ENGINE_AUDIT_LOG,
                  CA_GATEWAY_AUDIT_LOG, config 'engine_audit_log', 'gateway_audit_log'): the
                  other audit files, read by report
                --actor NAME (default $SUDO_USER / $USER)   --json   --config FILE
                config only: mac_rotation_days, mac_rotation_notice_days (R9 defaults: 0 = off,
                  14), report_config (the reporter's config: its SMTP relay mails the rotations)
commands:
  init
  migrate-mac-keys   (upgrade: re-wraps the MAC keys of the --wrap-key file to the HSM; same keys)
  org create --name N --country CC --locality L --registration-id ID
  org list | show ID | update ID [--name N] [--country CC] [--locality L] [--registration-id ID]
  org validate ID | invalidate ID
  ext-account create --org ID --contact NAME [--contact NAME...] [--not-before T] [--not-after T]
                     [--profiles P,...] [--challenges http-01,dns-01,tls-alpn-01]
                     [--max-acme-accounts N] [--orders-per-hour N] [--active]
                     [--report-period weekly|monthly|off]  (R49 report schedule; default weekly)
                     [--staging yes|no]  (may use the staging service when it is per account; default no)
                     [--mac-rotation-days N]  (R9: replace the MAC key every N days, 0 never;
                       default mac_rotation_days of the config; needs the recipient key)
                     --recipient-key PEM | --show-mac-key
                       (R22: the new MAC key is printed once encrypted to the requester's RSA public
                       key; --show-mac-key prints it in clear instead: discouraged)
  ext-account list | show KID | update KID [options of create but --org]
                     (update --recipient-key PEM registers the key rotated MAC keys are sealed to)
  ext-account activate|suspend|reactivate|deactivate KID
  ext-account regenerate-mac KID --recipient-key PEM | --show-mac-key
  ext-account rotate-due [--now T] [--report-config FILE]
                     (R9, run daily by acme-ca-mac-rotation.timer: mails each rotation's notice
                     mac_rotation_notice_days ahead (default 14), replaces the key at the announced
                     time and mails it encrypted to the registered recipient key; repeating a run
                     sends nothing twice)
  ext-account revoke KID [--reason R] [--dry-run | --yes]
  ext-account dashboard-credential KID   (prints the holder's dashboard login once; replaces any)
  dashboard-credential --operator NAME   (an operator's dashboard login over every account)
  domain add KID FQDN [--org ID] [--include-subdomains] [--dcv http-01,dns-01]
  domain remove|validate|invalidate KID FQDN | list [KID]
  acme-account list [--account KID] | show ID
  acme-account suspend|reactivate|deactivate ID | revoke ID [--reason R] [--dry-run | --yes]
  acme-account set-profile ID PROFILE | set-domains ID [FQDN...] | set-expiry ID TIME|none
  cert show SERIAL | list [--account KID] [--acme-account ID] [--domain FQDN] [--valid]
  cert revoke SERIAL [--reason R] [--dry-run]
  audit [--account ID] [--domain FQDN] [--since T] [--until T]
  report KID --since T --until T [--out DIR] [--send [--report-config FILE]]
  dump-snapshot
what the commands mean:
  domain add records a name (pending) for an external account; domain validate records that the RA
    checked the organization's right to that name (registry or internal DNS ownership, POL-3): only
    validated names are issued. It is not ACME's proof of control, which the client makes at each
    order (http-01, dns-01, tls-alpn-01). A name under none of the organization's domains warns.
  account-wide revokes (ext-account revoke, acme-account revoke) revoke every unexpired certificate
    of the account: --dry-run lists them, --yes confirms (at a terminal, typing the id confirms).
  report writes report-KID-SINCE-UNTIL.html and .csv into DIR (default: the current directory) and
    prints the account's counts for the period (certificates issued, revoked, valid at its end,
    expiring within 30 days and not renewed, validation failures, refusals, changes), read from the
    hash-chained audit files (refused when a chain does not verify). --until DATE covers that day.
    --send also mails it now to the addresses among the account's contacts, through the SMTP relay
    of the reporter's config (default /etc/acme-ca/report.json; it names the relay's password file,
    so run it as a user who can read both: root, or acme-ca-report).
  cert revoke records the revocation of one certificate; the engine applies RA revocations within
    seconds (OCSP then answers revoked; the next CRL lists it). Repeating a state change (suspend a
    suspended account) does nothing and says so.
times: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @unix-seconds; reasons: unspecified, keyCompromise,
affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn (default);
)";

}  // namespace ca::appliance::ra

int main(int argc, char** argv) {
  ca::HardenProcessForSecrets();
  ca::log::Init("ca-ra", ca::log::Level::kWarn);
  try {
    ca::appliance::ra::Args args = ca::appliance::ra::Parse(argc, argv);
    if (args.Flag("--help") || args.positional.empty()) {
      std::cout << ca::appliance::ra::kUsage << "profiles: " << ca::profiles::policy::ProfileNameList()
                << "\n";
      return args.positional.empty() && !args.Flag("--help") ? 2 : 0;
    }
    ca::appliance::ra::Cli cli(std::move(args));
    return cli.Run();
  } catch (const ca::appliance::ra::UsageError& e) {
    std::cerr << "ca-ra: " << e.message << " (see ca-ra --help)\n";
    return 2;
  } catch (const ca::appliance::ra::CommandError& e) {
    std::cerr << "ca-ra: " << e.message << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "ca-ra: " << e.what() << "\n";
    return 1;
  }
}
