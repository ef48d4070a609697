// ca-ra cert: find a certificate's accounts (show), list an account's certificates, revoke one
// certificate by serial; and the confirmation shared by the account-wide revocations
// (ext-account revoke, acme-account revoke).
//
// Certificates are read from the gateway store (what was delivered, to whom, for which names).
// A revocation is recorded in the policy store, audited there, and applied by the engine within
// seconds (engine/revocation.cpp ApplyMassRevocations); the status relying parties see is OCSP's.
#include <unistd.h>

#include <iostream>

#include "appliance/ra/cli.h"
#include "appliance/ra/text.h"
#include "pki/serial.h"

namespace ca::appliance::ra {

using namespace ca::profiles::policy;
using namespace ca::profiles::policy::admin;
using nlohmann::json;

namespace {

// The RA's recorded revocations that cover `c`: of its serial, of its ACME account, or of its
// whole external account (for a certificate issued before the account-wide revocation).
std::optional<MassRevocation> RecordedRevocation(const PolicyReader& r,
                                                 const GatewayCertificate& c) {
  for (const MassRevocation& m : r.MassRevocations()) {
    bool covers = !m.serial_hex.empty() ? m.serial_hex == c.serial_hex
                                        : (m.acme_account_id.empty()
                                               ? m.external_account_kid == c.external_account_kid
                                               : m.acme_account_id == c.acme_account_id) &&
                                              c.not_before <= m.recorded_at;
    if (covers) return m;
  }
  return std::nullopt;
}

json CertJson(const GatewayCertificate& c, const PolicyReader& r, int64_t now) {
  auto ext = r.FindExternalAccount(c.external_account_kid);
  auto org = ext ? r.FindOrganization(ext->organization_id) : std::nullopt;
  auto revocation = RecordedRevocation(r, c);
  return {{"serial_hex", c.serial_hex},
          {"acme_account_id", c.acme_account_id},
          {"external_account_kid", c.external_account_kid},
          {"organization_id", ext ? json(ext->organization_id) : json(nullptr)},
          {"organization_name", org ? json(org->name) : json(nullptr)},
          {"order_id", c.order_id},
          {"names", c.names},
          {"profile", c.profile},
          {"not_before", FormatTime(c.not_before)},
          {"not_after", FormatTime(c.not_after)},
          {"expired", c.not_after < now},
          {"revocation_recorded", revocation ? ToJson(*revocation) : json(nullptr)}};
}

std::string CertLine(const json& j) {
  std::string status = j["expired"].get<bool>() ? "expired" : "unexpired";
  if (!j["revocation_recorded"].is_null()) {
    status += ", revocation recorded (" +
              j["revocation_recorded"]["reason_name"].get<std::string>() + ")";
  }
  std::string names;
  for (const auto& n : j["names"]) names += (names.empty() ? "" : ",") + n.get<std::string>();
  return j["serial_hex"].get<std::string>() + "  " + names + "  " +
         j["profile"].get<std::string>() + "  until " + j["not_after"].get<std::string>() + "  " +
         status + "  acme " + j["acme_account_id"].get<std::string>() + "  kid " +
         j["external_account_kid"].get<std::string>() + "\n";
}

std::string CertText(const json& j) {
  std::string org = j["organization_name"].is_null()
                        ? "(unknown)"
                        : j["organization_name"].get<std::string>() + " (" +
                              j["organization_id"].get<std::string>() + ")";
  std::string names;
  for (const auto& n : j["names"]) names += (names.empty() ? "" : ", ") + n.get<std::string>();
  std::string revocation =
      "none recorded by the RA (a revocation by the ACME client shows in OCSP)";
  if (const json& m = j["revocation_recorded"]; !m.is_null()) {
    revocation = m["reason_name"].get<std::string>() + ", recorded " +
                 FormatTime(m["recorded_at"].get<int64_t>()) + " by " +
                 m["actor"].get<std::string>() +
                 (m.contains("serial_hex") ? " (this certificate)" : " (account-wide)");
  }
  return "serial: " + j["serial_hex"].get<std::string>() + "\nnames: " + names +
         "\nprofile: " + j["profile"].get<std::string>() +
         "\nvalidity: " + j["not_before"].get<std::string>() + " .. " +
         j["not_after"].get<std::string>() + (j["expired"].get<bool>() ? " (expired)" : "") +
         "\nACME account: " + j["acme_account_id"].get<std::string>() +
         "\nexternal account: " + j["external_account_kid"].get<std::string>() +
         "\norganization: " + org + "\norder: " + j["order_id"].get<std::string>() +
         "\nrevocation: " + revocation + "\n";
}

}  // namespace

std::vector<GatewayCertificate> Cli::UnexpiredCertificatesOf(const std::string& kid,
                                                             const std::string& acme_account_id) {
  std::vector<GatewayCertificate> out;
  int64_t now = Now();
  for (auto& c : Must(Gateway().Certificates())) {
    bool mine = acme_account_id.empty() ? c.external_account_kid == kid
                                        : c.acme_account_id == acme_account_id;
    if (mine && c.not_after >= now) out.push_back(std::move(c));
  }
  return out;
}

bool Cli::ConfirmAccountRevocation(const std::string& what, const std::string& id,
                                   const std::vector<GatewayCertificate>& certs) {
  std::string summary = "revoking " + what + " " + id + " revokes its " +
                        std::to_string(certs.size()) + " unexpired certificate(s)";
  if (a_.Flag("--dry-run")) {
    json serials = json::array();
    std::string text = "dry run, nothing changed: " + summary + ":\n";
    for (const auto& c : certs) {
      serials.push_back(c.serial_hex);
      text += "  " + c.serial_hex + "  until " + FormatTime(c.not_after) + "\n";
    }
    Print({{"dry_run", true}, {"certificates", certs.size()}, {"serials", serials}}, text);
    return false;
  }
  if (a_.Flag("--yes")) return true;
  if (::isatty(STDIN_FILENO) == 0) {
    throw UsageError{summary +
                     " and cannot be undone: confirm with --yes (see them with --dry-run)"};
  }
  std::cerr << summary << "; this cannot be undone.\nType the " << what << " id to confirm: ";
  std::string typed;
  std::getline(std::cin, typed);
  if (typed != id) throw CommandError{"not confirmed; nothing changed"};
  return true;
}

int Cli::Cert() {
  const std::string& cmd = a_.Pos(1, "cert subcommand");
  int64_t now = Now();
  if (cmd == "list") {
    NoExtraArgs(2);
    auto kid = a_.Get("--account");
    auto acme = a_.Get("--acme-account");
    auto domain = a_.Get("--domain");
    auto snap = Must(Store(false).Snapshot());
    json arr = json::array();
    std::string text;
    for (const auto& c : Must(Gateway().Certificates())) {
      if (kid && c.external_account_kid != *kid) continue;
      if (acme && c.acme_account_id != *acme) continue;
      if (domain && std::ranges::find(c.names, *domain) == c.names.end()) continue;
      if (a_.Flag("--valid") && c.not_after < now) continue;
      json j = CertJson(c, snap, now);
      text += CertLine(j);
      arr.push_back(std::move(j));
    }
    Print(arr, text);
    return 0;
  }
  const std::string& typed = a_.Pos(2, "serial (hex)");
  NoExtraArgs(3);
  int reason = ParseReason(a_);
  auto serial = pki::Serial::FromOperatorHex(typed);
  if (!serial) throw CommandError{"'" + typed + "' is not a certificate serial (hex)"};
  GatewayCertificate c = Must(Gateway().FindCertificate(serial->Hex()));
  if (cmd == "show") {
    auto snap = Must(Store(false).Snapshot());
    json j = CertJson(c, snap, now);
    Print(j, CertText(j));
    return 0;
  }
  if (cmd != "revoke") throw UsageError{"unknown cert subcommand '" + cmd + "'"};
  if (a_.Flag("--dry-run")) {
    Print({{"dry_run", true}, {"serial_hex", c.serial_hex}},
          "dry run, nothing changed: would revoke " + c.serial_hex + " (" +
              std::string(RevocationReasonName(reason)) + ")\n");
    return 0;
  }
  auto recorded = Must(RevokeCertificate(
      Ctx(), CertificateRef{c.serial_hex, c.acme_account_id, c.external_account_kid}, reason));
  Print({{"revocation", ToJson(recorded)}, {"certificates", 1}},
        "recorded the revocation of " + c.serial_hex + " (" + recorded.reason_name +
            "); the engine applies it within seconds, then OCSP answers revoked and the next CRL "
            "lists it\n");
  return 0;
}

}  // namespace ca::appliance::ra
