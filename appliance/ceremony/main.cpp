// ca-ceremony: key ceremonies from one declarative JSON config each.
//   ca-ceremony run CONFIG.json
//   ca-ceremony verify-transcript DIR [--trust CERT.pem]
//   ca-ceremony lint --role root|intermediate|ocsp-signer|tls-server [--staging] CERT.pem
//   ISSUER.pem
// Exit status: 0 done; 2 bad usage or bad config (nothing touched); 1 the ceremony or the check
// failed (nothing left behind but the keys named in the message).
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "appliance/ceremony/ceremony.h"
#include "appliance/ceremony/certs.h"
#include "appliance/ceremony/key_store.h"
#include "appliance/ceremony/transcript.h"
#include "common/openssl.h"
#include "common/secret.h"

namespace {

using namespace ca;
using namespace ca::appliance::ceremony;

int Usage() {
  std::fprintf(stderr,
               "usage: ca-ceremony run CONFIG.json | verify-transcript DIR [--trust CERT.pem] | "
               "lint --role root|intermediate|ocsp-signer|tls-server [--staging] CERT.pem "
               "ISSUER.pem\n");
  return 2;
}

int Report(const Error& e, int code) {
  std::fprintf(stderr, "ca-ceremony: %s\n", e.message.c_str());
  return code;
}

int Run(const std::string& config_path) {
  HardenProcessForSecrets();
  auto prepared = PrepareCeremony(config_path);
  if (!prepared) return Report(prepared.error(), 2);
  auto provider = NewHsmTokenProvider();
  auto outcome = ExecuteCeremony(std::move(*prepared), *provider);
  if (!outcome) return Report(outcome.error(), 1);
  std::printf("ceremony complete: %s\n", outcome->output_dir.c_str());
  for (const auto& a : outcome->artifacts) std::printf("  %s\n", a.c_str());
  if (outcome->root) {
    std::printf(
        "root certificate: %s\n"
        "  SHA-256 Fingerprint=%s\n"
        "  Write this fingerprint down in the ceremony record: it identifies the root wherever it "
        "is\n"
        "  installed (openssl x509 -noout -fingerprint -sha256 -in root.pem prints the same).\n",
        outcome->root->subject.c_str(), outcome->root->sha256_fingerprint.c_str());
  }
  return 0;
}

int Verify(const std::vector<std::string>& args) {
  if (args.empty()) return Usage();
  std::string dir;
  ossl::X509Ptr anchor;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--trust" && i + 1 < args.size()) {
      auto pem = ossl::ReadFile(args[++i]);
      if (!pem) return Report(pem.error(), 2);
      auto cert = ossl::CertFromPem(*pem);
      if (!cert)
        return Report(Error{ErrorCode::kInvalidArgument, "--trust: not a PEM certificate"}, 2);
      anchor = std::move(*cert);
    } else if (dir.empty() && !args[i].starts_with("--")) {
      dir = args[i];
    } else {
      return Usage();
    }
  }
  if (dir.empty()) return Usage();
  auto report = VerifyTranscriptDir(dir, anchor.get());
  if (!report) return Report(report.error(), 1);
  if (report->signed_) {
    std::printf("transcript OK: ceremony %s, %zu artifacts, signed by key '%s'\n",
                report->ceremony.c_str(), report->artifacts, report->signer_label.c_str());
    std::printf("verified against %s %s SHA-256 Fingerprint=%s%s\n",
                report->anchor_self_signed ? "root" : "certificate", report->anchor_subject.c_str(),
                report->anchor_sha256_fingerprint.c_str(),
                !report->anchor_is_signer    ? " (--trust)"
                : report->anchor_self_signed ? " (the transcript's own root: compare with the "
                                               "fingerprint written down at the ceremony)"
                                             : " (the transcript's own signer certificate: pass "
                                               "--trust ROOT.pem to check it against the root)");
  } else {
    std::printf(
        "transcript OK: ceremony %s, %zu artifacts, unsigned (no key exists at token "
        "initialisation)\n",
        report->ceremony.c_str(), report->artifacts);
  }
  return 0;
}

int Lint(const std::vector<std::string>& args) {
  std::optional<ca::pki::CertRole> role;
  ca::pki::LintOptions options;
  std::vector<std::string> files;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--role" && i + 1 < args.size()) {
      role = ParseCeremonyRole(args[++i]);
      if (!role) return Usage();
    } else if (args[i] == "--staging") {
      options.staging = true;
    } else {
      files.push_back(args[i]);
    }
  }
  if (!role || files.size() != 2) return Usage();
  std::vector<ossl::X509Ptr> certs;
  for (const auto& f : files) {
    auto pem = ossl::ReadFile(f);
    if (!pem) return Report(pem.error(), 2);
    auto cert = ossl::CertFromPem(*pem);
    if (!cert) return Report(Error{ErrorCode::kInvalidArgument, f + ": not a PEM certificate"}, 2);
    certs.push_back(std::move(*cert));
  }
  auto findings = ca::pki::LintCertificate(certs[0].get(), certs[1].get(), *role, options);
  auto status = ca::pki::FindingsStatus(findings, files[0]);
  if (!status) return Report(status.error(), 1);
  std::printf("lint OK: %s (%s)\n", files[0].c_str(), std::string(CeremonyRoleName(*role)).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  std::string_view command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "run") {
    if (args.size() != 1) return Usage();
    return Run(args[0]);
  }
  if (command == "verify-transcript") return Verify(args);
  if (command == "lint") return Lint(args);
  return Usage();
}
