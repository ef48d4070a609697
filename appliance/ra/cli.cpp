// The Cli's settings (options, environment, config file), its stores, and the commands that are
// not a group: init, audit, dump-snapshot.
#include "appliance/ra/cli.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>

#include "appliance/ra/audit_export.h"
#include "profiles/policy/fqdn.h"
#include "profiles/policy/mac_key.h"

namespace ca::appliance::ra {

using namespace ca::profiles::policy;
using namespace ca::profiles::policy::admin;
using nlohmann::json;

namespace {

// Options that take a value; every other "--x" is a flag.
const std::vector<std::string> kValueOptions = {"--store",
                                                "--wrap-key",
                                                "--mac-wrap-public-key",
                                                "--recipient-key",
                                                "--gateway-store",
                                                "--actor",
                                                "--audit-log",
                                                "--engine-audit-log",
                                                "--gateway-audit-log",
                                                "--out",
                                                "--config",
                                                "--group",
                                                "--name",
                                                "--country",
                                                "--locality",
                                                "--registration-id",
                                                "--org",
                                                "--contact",
                                                "--not-before",
                                                "--not-after",
                                                "--profiles",
                                                "--challenges",
                                                "--max-acme-accounts",
                                                "--orders-per-hour",
                                                "--report-period",
                                                "--staging",
                                                "--report-config",
                                                "--reason",
                                                "--dcv",
                                                "--account",
                                                "--domain",
                                                "--since",
                                                "--until",
                                                "--acme-account",
                                                "--operator",
                                                "--mac-rotation-days",
                                                "--now",
                                                "--caa-identities",
                                                "--caa-resolver"};
const std::vector<std::string> kFlags = {
    "--json", "--active", "--show-mac-key", "--include-subdomains", "--help", "--yes", "--dry-run", "--valid",
    "--send"};

}  // namespace

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s.starts_with("--")) {
      std::string value;
      bool has_value = false;
      if (auto eq = s.find('='); eq != std::string::npos) {
        value = s.substr(eq + 1);
        s = s.substr(0, eq);
        has_value = true;
      }
      if (std::ranges::find(kValueOptions, s) != kValueOptions.end()) {
        if (!has_value) {
          if (i + 1 >= argc) throw UsageError{s + " needs a value"};
          value = argv[++i];
        }
        a.options.emplace(s, value);
      } else if (std::ranges::find(kFlags, s) != kFlags.end() && !has_value) {
        a.flags[s] = true;
      } else {
        throw UsageError{"unknown option " + s};
      }
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string item =
        s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

uint32_t ParseCount(const std::string& opt, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  unsigned long n = std::strtoul(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || n == 0 || n > 1000000 || v[0] == '-') {
    throw CommandError{opt + " must be a positive integer, got '" + v + "'"};
  }
  return static_cast<uint32_t>(n);
}

int ParseReason(const Args& a) {
  auto r = a.Get("--reason");
  if (!r) return 9;
  auto code = ParseRevocationReason(*r);
  if (!code) throw CommandError{"unknown revocation reason '" + *r + "'"};
  return *code;
}

int Cli::Run() {
  int rc = 0;
  try {
    rc = RunCommand();
  } catch (...) {
    try {
      ExportAudit();  // a change may have been committed before the failure
    } catch (...) {
    }
    throw;
  }
  ExportAudit();
  return rc;
}

void Cli::ExportAudit() {
  if (!wrote_ || audit_log_.empty()) return;
  if (!writer_ && !reader_) reader_ = Must(PolicyStore::OpenReadOnly(store_dir_));
  const PolicyStore& store = writer_ ? static_cast<const PolicyStore&>(*writer_) : *reader_;
  auto exported = ExportPolicyAudit(store, audit_log_);
  if (!exported) {
    throw CommandError{"the policy store is up to date but its audit file " + audit_log_ +
                       " is not (the next change retries): " + exported.error().message};
  }
}

int Cli::RunCommand() {
  const std::string& group = a_.Pos(0, "command");
  if (a_.Get("--now") && (group != "ext-account" || a_.Pos(1, "subcommand") != "rotate-due"))
    throw UsageError{"--now is the clock of ext-account rotate-due only"};
  if (group == "init") return Init();
  if (group == "migrate-mac-keys") return MigrateMacKeys();
  if (group == "org") return Org();
  if (group == "ext-account") return ExtAccount();
  if (group == "domain") return Domain();
  if (group == "acme-account") return AcmeAccount();
  if (group == "audit") return AuditCmd();
  if (group == "dump-snapshot") return Dump();
  if (group == "cert") return Cert();
  if (group == "dashboard-credential") return OperatorDashboardCredential();
  if (group == "report") return Report();
  throw UsageError{"unknown command '" + group + "'"};
}

void Cli::LoadConfig() {
  auto setting = [&](const char* opt, const char* env) -> std::string {
    if (auto v = a_.Get(opt)) return *v;
    if (const char* e = std::getenv(env); e != nullptr && *e != '\0') return e;
    return "";
  };
  store_dir_ = setting("--store", "CA_POLICY_STORE");
  wrap_key_path_ = setting("--wrap-key", "CA_POLICY_WRAP_KEY");
  mac_wrap_public_path_ = setting("--mac-wrap-public-key", "CA_MAC_WRAP_PUBLIC_KEY");
  gateway_dir_ = setting("--gateway-store", "CA_GATEWAY_STORE");
  audit_log_ = setting("--audit-log", "CA_RA_AUDIT_LOG");
  engine_audit_log_ = setting("--engine-audit-log", "CA_ENGINE_AUDIT_LOG");
  gateway_audit_log_ = setting("--gateway-audit-log", "CA_GATEWAY_AUDIT_LOG");
  staging_gateway_audit_log_ =
      setting("--staging-gateway-audit-log", "CA_STAGING_GATEWAY_AUDIT_LOG");
  std::string caa_identities = setting("--caa-identities", "CA_CAA_IDENTITIES");
  std::string caa_resolver = setting("--caa-resolver", "CA_CAA_RESOLVER");
  if (auto cfg = a_.Get("--config")) {
    std::ifstream in(*cfg);
    if (!in) throw CommandError{"cannot read config file " + *cfg};
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      auto eq = line.find('=');
      if (eq == std::string::npos) throw CommandError{"config " + *cfg + ": expected key = value"};
      auto trim = [](std::string s) {
        s.erase(0, s.find_first_not_of(" \t"));
        s.erase(s.find_last_not_of(" \t\r") + 1);
        return s;
      };
      std::string k = trim(line.substr(0, eq)), v = trim(line.substr(eq + 1));
      if (k == "store" && store_dir_.empty())
        store_dir_ = v;
      else if (k == "wrap_key" && wrap_key_path_.empty())
        wrap_key_path_ = v;
      else if (k == "mac_wrap_public_key" && mac_wrap_public_path_.empty())
        mac_wrap_public_path_ = v;
      else if (k == "gateway_store" && gateway_dir_.empty())
        gateway_dir_ = v;
      else if (k == "audit_log" && audit_log_.empty())
        audit_log_ = v;
      else if (k == "engine_audit_log" && engine_audit_log_.empty())
        engine_audit_log_ = v;
      else if (k == "gateway_audit_log" && gateway_audit_log_.empty())
        gateway_audit_log_ = v;
      else if (k == "staging_gateway_audit_log" && staging_gateway_audit_log_.empty())
        staging_gateway_audit_log_ = v;
      else if (k == "report_config")
        report_config_ = v;
      else if (k == "mac_rotation_days")
        rotation_.default_period_days = ParseDays("config " + *cfg + ": " + k, v);
      else if (k == "mac_rotation_notice_days")
        rotation_.notice_days = ParseDays("config " + *cfg + ": " + k, v);
      else if (k == "caa_identities" && caa_identities.empty())
        caa_identities = v;
      else if (k == "caa_resolver" && caa_resolver.empty())
        caa_resolver = v;
      else if (k != "store" && k != "wrap_key" && k != "mac_wrap_public_key" && k != "gateway_store" && k != "audit_log" &&
               k != "engine_audit_log" && k != "gateway_audit_log" && k != "caa_identities" &&
               k != "caa_resolver" && k != "staging_gateway_audit_log") {
        throw CommandError{"config " + *cfg + ": unknown key '" + k + "'"};
      }
    }
  }
  caa_ = CaaSettings::From(caa_identities, caa_resolver);
  if (auto v = a_.Get("--actor")) {
    actor_ = *v;
  } else if (const char* s = std::getenv("SUDO_USER"); s != nullptr && *s != '\0') {
    actor_ = s;
  } else if (const char* u = std::getenv("USER"); u != nullptr && *u != '\0') {
    actor_ = u;
  } else {
    actor_ = "uid:" + std::to_string(::getuid());
  }
  json_ = a_.Flag("--json");
}

void Cli::NoExtraArgs(size_t n) const {
  if (a_.positional.size() > n) throw UsageError{"unexpected argument '" + a_.positional[n] + "'"};
}

const PolicyStore& Cli::Store(bool writer) {
  if (!writer_ && !reader_) {
    if (store_dir_.empty())
      throw CommandError{"no policy store given (--store, CA_POLICY_STORE or config)"};
    if (writer) {
      writer_ = Must(PolicyWriter::Open(store_dir_));
    } else {
      reader_ = Must(PolicyStore::OpenReadOnly(store_dir_));
    }
    wrote_ = wrote_ || writer;
  }
  if (writer_) return *writer_;
  return *reader_;
}

AdminContext Cli::Ctx() {
  Store(true);
  if (!writer_) throw CommandError{"the policy store was opened read-only"};
  return AdminContext{&*writer_, actor_, Now()};
}

int64_t Cli::Now() {
  return static_cast<int64_t>(std::time(nullptr));
}

Secret Cli::LegacyWrapKey() {
  if (wrap_key_path_.empty())
    throw CommandError{"no legacy wrapping-key file given (--wrap-key, CA_POLICY_WRAP_KEY or config)"};
  return Must(LoadWrapKey(wrap_key_path_));
}

ossl::Pkey Cli::MacWrapPublicKey() {
  if (mac_wrap_public_path_.empty())
    throw CommandError{
        "no MAC wrapping public key given (--mac-wrap-public-key, CA_MAC_WRAP_PUBLIC_KEY or config "
        "mac_wrap_public_key; the ceremony step mac-wrap writes it)"};
  return Must(LoadMacWrapPublicKey(mac_wrap_public_path_));
}

GatewayStore& Cli::Gateway() {
  if (!gateway_) {
    if (gateway_dir_.empty()) {
      throw CommandError{
          "ACME accounts and certificates live in the gateway store: give --gateway-store DIR "
          "(or gateway_store in the config)"};
    }
    gateway_ = Must(GatewayStore::Open(gateway_dir_));
  }
  return *gateway_;
}

void Cli::Print(const json& j, const std::string& human) {
  if (json_) {
    std::cout << j.dump() << "\n";
  } else {
    std::cout << human;
  }
}

// The MAC keys are wrapped to the HSM (profiles/policy/mac_key.h): init makes the store only.
int Cli::Init() {
  NoExtraArgs(1);
  if (store_dir_.empty()) throw CommandError{"init needs --store DIR"};
  { auto store = Must(PolicyWriter::Create(store_dir_, actor_, Now())); }
  wrote_ = true;
  Print({{"store", store_dir_}, {"version", 1}}, "created policy store " + store_dir_ + "\n");
  return 0;
}

// Upgrade: re-wraps every MAC key still under the wrapping-key file to the HSM (same keys: the
// requesters' EAB credentials keep working). acme-ca-setup runs it, then deletes the file.
int Cli::MigrateMacKeys() {
  NoExtraArgs(1);
  Secret legacy = LegacyWrapKey();
  ossl::Pkey hsm_public = MacWrapPublicKey();
  size_t n = Must(MigrateMacKeysToHsm(Ctx(), legacy, hsm_public.get()));
  Print({{"migrated", n}}, "wrapped " + std::to_string(n) +
                               " MAC key(s) to the HSM; the wrapping-key file is no longer needed\n");
  return 0;
}

int Cli::AuditCmd() {
  NoExtraArgs(1);
  AuditFilter f;
  f.account = a_.Get("--account").value_or("");
  if (auto d = a_.Get("--domain")) f.domain = Must(NormalizeFqdn(*d, true));
  if (auto t = a_.Get("--since")) f.since = Must(ParseTime(*t));
  if (auto t = a_.Get("--until")) f.until = Must(ParseTime(*t));
  auto snap = Must(Store(false).Snapshot());
  json arr = json::array();
  std::string text;
  for (const auto& r : snap.Audit(f)) {
    arr.push_back(ToJson(r));
    text += FormatTime(r.time) + "  v" + std::to_string(r.policy_version) + "  " + r.actor + "  " +
            r.action + "  " + r.object_type + " " + r.object_id + "\n";
  }
  Print(arr, text);
  return 0;
}

int Cli::Dump() {
  NoExtraArgs(1);
  auto snap = Must(Store(false).Snapshot());
  json j = snap.ToJson(Now());
  std::cout << (json_ ? j.dump() : j.dump(2)) << "\n";
  return 0;
}

}  // namespace ca::appliance::ra
