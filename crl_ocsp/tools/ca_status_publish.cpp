// ca-status-publish: signs OCSP responses and a CRL with software keys and publishes them into a
// status store, through the same library calls the engine makes. For tests, demos and recovery.
//
//   ca-status-publish --store DIR --issuer-name NAME --issuer CA.pem
//       --ocsp-cert OCSP.pem --ocsp-key OCSP.key [--cert LEAF.pem]...
//       [--revocations FILE] [--crl-key CA.key] [--ocsp-validity SECONDS] [--crl-validity SECONDS]
//
// FILE has one revoked certificate per line: "<serial hex> <reason> [<revocation unix time>]"
// ('#' starts a comment). Everything is read and signed before the store is written; the CRL is
// published (guarded) before the responses.
//
//   ca-status-publish import-crl --store DIR --issuer-name NAME --issuer CA.pem --crl CRL
//
// registers the issuer (its certificate is then served at /ca/NAME.der) and publishes a CRL signed
// elsewhere (DER or PEM; the offline root's CRL from `ca-ceremony root-crl`) through the same
// publish guard, for the status server's /crl/NAME.crl. Importing the current CRL again succeeds.
#include <openssl/pem.h>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "crl_ocsp/ocsp_response.h"
#include "crl_ocsp/status_store.h"
#include "pki/crl_builder.h"

namespace {

using namespace ca;
using namespace ca::crl_ocsp;
using pki::BuildCrl;
using pki::CrlEntry;

struct Args {
  bool import_crl = false;
  std::string store, issuer_name, issuer, ocsp_cert, ocsp_key, crl_key, revocations, crl;
  std::vector<std::string> certs;
  long ocsp_validity = 4 * 86400;
  long crl_validity = 7 * 86400;
};

Result<Args> ParseArgs(int argc, char** argv) {
  Args a;
  int first = 1;
  if (argc > 1 && std::string_view(argv[1]) == "import-crl") {
    a.import_crl = true;
    first = 2;
  }
  for (int i = first; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return Fail(ErrorCode::kInvalidArgument, "missing value for " + flag);
    std::string v = argv[++i];
    if (flag == "--store")
      a.store = v;
    else if (flag == "--issuer-name")
      a.issuer_name = v;
    else if (flag == "--issuer")
      a.issuer = v;
    else if (flag == "--ocsp-cert")
      a.ocsp_cert = v;
    else if (flag == "--ocsp-key")
      a.ocsp_key = v;
    else if (flag == "--crl-key")
      a.crl_key = v;
    else if (flag == "--revocations")
      a.revocations = v;
    else if (flag == "--crl" && a.import_crl)
      a.crl = v;
    else if (flag == "--cert")
      a.certs.push_back(v);
    else if (flag == "--ocsp-validity" || flag == "--crl-validity") {
      long n = 0;
      try {
        size_t pos = 0;
        n = std::stol(v, &pos);
        if (pos != v.size() || n <= 0) throw std::invalid_argument(v);
      } catch (const std::exception&) {
        return Fail(ErrorCode::kInvalidArgument, flag + " needs a positive number of seconds");
      }
      (flag == "--ocsp-validity" ? a.ocsp_validity : a.crl_validity) = n;
    } else {
      return Fail(ErrorCode::kInvalidArgument, "unknown flag " + flag);
    }
  }
  if (a.import_crl) {
    if (a.store.empty() || a.issuer_name.empty() || a.issuer.empty() || a.crl.empty())
      return Fail(ErrorCode::kInvalidArgument,
                  "import-crl needs --store, --issuer-name, --issuer and --crl");
    if (!a.ocsp_cert.empty() || !a.ocsp_key.empty() || !a.crl_key.empty() ||
        !a.revocations.empty() || !a.certs.empty())
      return Fail(ErrorCode::kInvalidArgument,
                  "import-crl takes only --store, --issuer-name, --issuer and --crl");
    return a;
  }
  if (a.store.empty() || a.issuer_name.empty() || a.issuer.empty() || a.ocsp_cert.empty() ||
      a.ocsp_key.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "--store, --issuer-name, --issuer, --ocsp-cert and --ocsp-key are required");
  }
  return a;
}

Result<ossl::X509Ptr> LoadCert(const std::string& path) {
  std::string pem = CA_TRY(ossl::ReadFile(path));
  auto cert = ossl::CertFromPem(pem);
  if (!cert) return Fail(ErrorCode::kInvalidArgument, path + ": not a PEM certificate");
  return std::move(*cert);
}

Result<ossl::Pkey> LoadKey(const std::string& path) {
  std::string pem = CA_TRY(ossl::ReadFile(path));
  ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ossl::Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ossl::DrainErrors();
    return Fail(ErrorCode::kInvalidArgument, path + ": not an unencrypted PEM private key");
  }
  return key;
}

Result<std::vector<pki::CrlEntry>> LoadRevocations(const std::string& path, Time now) {
  std::vector<pki::CrlEntry> out;
  if (path.empty()) return out;
  std::string text = CA_TRY(ossl::ReadFile(path));
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string serial, reason, when, extra;
    if (!(fields >> serial)) continue;
    auto where = [&] { return path + ":" + std::to_string(n) + ": "; };
    if (!(fields >> reason)) return Fail(ErrorCode::kInvalidArgument, where() + "missing reason");
    pki::CrlEntry e;
    auto s = pki::Serial::FromOperatorHex(serial);  // typed by an operator
    if (!s) return Fail(ErrorCode::kInvalidArgument, where() + s.error().message);
    e.serial = std::move(*s);
    auto r = pki::ParseReason(reason);
    if (!r) return Fail(ErrorCode::kInvalidArgument, where() + r.error().message);
    e.reason = *r;
    e.revocation_time = now;
    if (fields >> when) {
      try {
        e.revocation_time = Time(std::chrono::seconds(std::stoll(when)));
      } catch (const std::exception&) {
        return Fail(ErrorCode::kInvalidArgument, where() + "bad revocation time");
      }
    }
    if (fields >> extra) return Fail(ErrorCode::kInvalidArgument, where() + "unexpected text");
    out.push_back(std::move(e));
  }
  return out;
}

// DER as is; PEM ("-----BEGIN X509 CRL-----") decoded by OpenSSL.
Result<Bytes> LoadCrlDer(const std::string& path) {
  std::string text = CA_TRY(ossl::ReadFile(path));
  if (text.find("-----BEGIN X509 CRL-----") == std::string::npos)
    return Bytes(text.begin(), text.end());
  ossl::Bio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  ossl::X509Crl crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  if (!crl) {
    ossl::DrainErrors();
    return Fail(ErrorCode::kInvalidArgument, path + ": not a PEM CRL");
  }
  return ossl::CrlToDer(crl.get());
}

Result<std::string> ImportCrl(const Args& a) {
  ossl::X509Ptr issuer = CA_TRY(LoadCert(a.issuer));
  Bytes der = CA_TRY(LoadCrlDer(a.crl));
  // Checked before the issuer is registered: a CRL that is not this issuer's leaves no trace.
  CrlInfo checked = CA_TRY(InspectCrl(der, issuer.get()));
  StatusStore store = CA_TRY(StatusStore::Open({a.store}));
  CA_TRY_STATUS(store.RegisterIssuer(a.issuer_name, issuer.get()));
  auto current = CA_TRY(store.CurrentCrl(a.issuer_name));
  if (current && *current == der) {  // re-running an import is not an error
    return "crl number " + std::to_string(checked.number) + " of " + a.issuer_name + " (already)";
  }
  CrlInfo info = CA_TRY(store.ImportCrl(a.issuer_name, der, {}));
  return "crl number " + std::to_string(info.number) + " of " + a.issuer_name + " with " +
         std::to_string(info.entries) + " entries";
}

Result<std::string> Run(const Args& a) {
  if (a.import_crl) return ImportCrl(a);
  Time now = pki::Now();
  ossl::X509Ptr issuer = CA_TRY(LoadCert(a.issuer));
  ossl::X509Ptr ocsp_cert = CA_TRY(LoadCert(a.ocsp_cert));
  ossl::Pkey ocsp_key = CA_TRY(LoadKey(a.ocsp_key));
  ossl::Pkey crl_key;
  if (!a.crl_key.empty()) crl_key = CA_TRY(LoadKey(a.crl_key));
  std::vector<pki::CrlEntry> revoked = CA_TRY(LoadRevocations(a.revocations, now));
  std::map<std::string, const pki::CrlEntry*> by_serial;
  for (const pki::CrlEntry& e : revoked) by_serial[e.serial.Hex()] = &e;

  NotAfterBySerial not_after;
  std::vector<Bytes> responses;
  std::vector<OcspPublication> batch;
  for (const std::string& path : a.certs) {
    ossl::X509Ptr cert = CA_TRY(LoadCert(path));
    if (X509_check_issued(issuer.get(), cert.get()) != X509_V_OK) {
      return Fail(ErrorCode::kInvalidArgument, path + " is not issued by " + a.issuer);
    }
    pki::Serial serial = CA_TRY(pki::Serial::FromCert(cert.get()));
    Time cert_not_after = CA_TRY(pki::FromAsn1Time(X509_get0_notAfter(cert.get())));
    not_after[serial.Hex()] = cert_not_after;
    OcspCertState st{serial, CertStatus::kGood,
                     {},     pki::RevocationReason::kUnspecified,
                     now,    now + std::chrono::seconds(a.ocsp_validity)};
    if (auto it = by_serial.find(serial.Hex()); it != by_serial.end()) {
      st.status = CertStatus::kRevoked;
      st.revocation_time = it->second->revocation_time;
      st.reason = static_cast<pki::RevocationReason>(it->second->reason);  // parsed by ParseReason
    }
    Bytes der = CA_TRY(BuildOcspResponse(issuer.get(), {ocsp_key.get(), ocsp_cert.get()}, st));
    responses.push_back(std::move(der));
    batch.push_back({{}, cert_not_after});
  }
  for (size_t i = 0; i < batch.size(); ++i) batch[i].der = responses[i];

  StatusStore store = CA_TRY(StatusStore::Open({a.store}));
  CA_TRY_STATUS(store.RegisterIssuer(a.issuer_name, issuer.get()));
  std::string summary;
  if (crl_key) {
    uint64_t number = CA_TRY(store.ReserveCrlNumber(a.issuer_name));
    Bytes crl = CA_TRY(BuildCrl({issuer.get(), crl_key.get(), number, now,
                                 now + std::chrono::seconds(a.crl_validity), revoked}));
    CrlInfo info = CA_TRY(store.PublishCrl(a.issuer_name, crl, not_after));
    summary += "crl number " + std::to_string(info.number) + " with " +
               std::to_string(info.entries) + " entries; ";
  }
  CA_TRY_STATUS(store.PutOcspResponses(a.issuer_name, batch));
  summary += std::to_string(batch.size()) + " OCSP responses";
  return summary;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = ParseArgs(argc, argv);
  if (!args) {
    std::fprintf(stderr, "ca-status-publish: %s\n", args.error().message.c_str());
    return 2;
  }
  auto summary = Run(*args);
  if (!summary) {
    std::fprintf(stderr, "ca-status-publish: %s\n", summary.error().ToString().c_str());
    return 1;
  }
  std::printf("published %s\n", summary->c_str());
  return 0;
}
