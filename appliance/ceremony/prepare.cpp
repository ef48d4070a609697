// Preparing a ceremony: the configuration read and checked, the output directory, the module and
// the issuer certificate verified, the CRL counter read, before the token is touched.
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "appliance/ceremony/ceremony.h"
#include "appliance/ceremony/certs.h"
#include "common/encoding.h"
#include "common/openssl.h"
#include "pki/time.h"

namespace ca::appliance::ceremony {

namespace {

namespace fs = std::filesystem;

constexpr time_t kDay = 86400;

std::unexpected<Error> BadInput(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, std::move(message));
}

std::string TimeText(const ASN1_TIME* t) {
  auto time = pki::FromAsn1Time(t);
  return time ? pki::FormatRfc3339(*time) : "?";
}

// Reads the CRL counter file: the last number used, digits and an optional newline. Absent: 0.
Result<uint64_t> ReadCounter(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return uint64_t{0};
    return Fail(ErrorCode::kIo, "root_crl.crl_number_file: " + path + ": " + std::strerror(errno));
  }
  std::string text = CA_TRY(ossl::ReadFile(path));
  if (text.ends_with('\n')) text.pop_back();
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return BadInput("root_crl.crl_number_file: " + path + " does not hold a decimal number");
  }
  return value;
}

Status CheckIssuerCert(const PreparedCeremony& p, time_t child_not_after, bool need_self_signed,
                       const std::string& what) {
  X509* issuer = p.issuer_cert.get();
  const std::string& path = p.config.issuer->certificate_path;
  if (X509_check_ca(issuer) < 1 || (X509_get_key_usage(issuer) & KU_KEY_CERT_SIGN) == 0) {
    return BadInput("issuer.certificate: " + path + " is not a CA certificate");
  }
  if (need_self_signed && X509_check_issued(issuer, issuer) != X509_V_OK) {
    return BadInput("issuer.certificate: " + path + " is not a self-signed root");
  }
  if (X509_cmp_time(X509_get0_notBefore(issuer), &const_cast<time_t&>(p.now)) > 0 ||
      X509_cmp_time(X509_get0_notAfter(issuer), &const_cast<time_t&>(p.now)) < 0) {
    return BadInput("issuer.certificate: " + path + " is not valid now");
  }
  if (child_not_after != 0 && X509_cmp_time(X509_get0_notAfter(issuer), &child_not_after) < 0) {
    return BadInput(what + ".validity_days: would end after the issuer certificate (" +
                    TimeText(X509_get0_notAfter(issuer)) + ")");
  }
  return Ok();
}

}  // namespace

Result<PreparedCeremony> PrepareCeremony(const std::string& config_path) {
  auto text = ossl::ReadFile(config_path);
  if (!text) return Fail(ErrorCode::kNotFound, "config: cannot read " + config_path);
  return PrepareCeremonyFromText(std::move(*text), time(nullptr));
}

Result<PreparedCeremony> PrepareCeremonyFromText(std::string config_text, time_t now) {
  PreparedCeremony p;
  p.config = CA_TRY(ParseConfig(config_text));
  p.config_text = std::move(config_text);
  p.config_sha256_hex = HexEncode(Sha256(p.config_text));
  p.now = now;
  const CeremonyConfig& c = p.config;

  // Output directory: must not exist; its parent must.
  struct stat st {};
  if (lstat(c.output_dir.c_str(), &st) == 0) {
    return Fail(ErrorCode::kAlreadyExists,
                "output_dir " + c.output_dir + " already exists (refusing to overwrite)");
  }
  std::string parent = fs::path(c.output_dir).parent_path().string();
  if (stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Fail(ErrorCode::kNotFound, "output_dir: parent directory " + parent + " does not exist");
  }
  if (stat(c.token.module_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Fail(ErrorCode::kNotFound,
                "token.module: PKCS#11 module " + c.token.module_path + " does not exist");
  }
  auto pin = LoadSecret(c.token.user_pin_source);
  if (!pin) return Fail(pin.error().code, "token.user_pin: " + pin.error().message);
  p.user_pin = std::move(*pin);
  if (c.kind == CeremonyKind::kInitToken) {
    auto so = LoadSecret(c.token.so_pin_source);
    if (!so) return Fail(so.error().code, "token.so_pin: " + so.error().message);
    p.so_pin = std::move(*so);
  }

  if (c.issuer) {
    auto pem = ossl::ReadFile(c.issuer->certificate_path);
    if (!pem) {
      return Fail(ErrorCode::kNotFound,
                  "issuer.certificate: cannot read " + c.issuer->certificate_path);
    }
    auto cert = ossl::CertFromPem(*pem);
    if (!cert) {
      return BadInput("issuer.certificate: " + c.issuer->certificate_path +
                      " is not a PEM certificate");
    }
    p.issuer_cert = std::move(*cert);
    p.issuer_cert_pem = std::move(*pem);
    switch (c.kind) {
      case CeremonyKind::kIntermediate:
        CA_TRY_STATUS(
            CheckIssuerCert(p, now + c.intermediate->validity_days * kDay, true, "intermediate"));
        break;
      case CeremonyKind::kOcspSigner:
        CA_TRY_STATUS(
            CheckIssuerCert(p, now + c.ocsp_signer->validity_days * kDay, false, "ocsp_signer"));
        break;
      case CeremonyKind::kTlsServer: {
        CA_TRY_STATUS(
            CheckIssuerCert(p, now + c.tls_server->validity_days * kDay, false, "tls_server"));
        X509* issuer = p.issuer_cert.get();
        // The root stays offline: server certificates come from the ACME intermediate.
        if (X509_check_issued(issuer, issuer) == X509_V_OK) {
          return BadInput("issuer.certificate: " + c.issuer->certificate_path +
                          " is a self-signed root (the TLS server certificate is issued by the "
                          "ACME intermediate)");
        }
        if ((X509_get_extended_key_usage(issuer) & XKU_SSL_SERVER) == 0) {
          return BadInput("issuer.certificate: " + c.issuer->certificate_path +
                          " has an extendedKeyUsage without serverAuth");
        }
        auto allowed = CheckNamesAllowedByIssuer(c.tls_server->names, issuer);
        if (!allowed) return BadInput("tls_server." + allowed.error().message);
        break;
      }
      case CeremonyKind::kRootCrl:
        CA_TRY_STATUS(CheckIssuerCert(p, 0, true, "root_crl"));
        if ((X509_get_key_usage(p.issuer_cert.get()) & KU_CRL_SIGN) == 0) {
          return BadInput("issuer.certificate: " + c.issuer->certificate_path + " lacks cRLSign");
        }
        break;
      default:
        break;
    }
  }
  if (c.ocsp_signer && c.intermediate &&
      c.ocsp_signer->validity_days > c.intermediate->validity_days) {
    return BadInput("config: ocsp_signer.validity_days: exceeds the intermediate's validity_days");
  }
  if (c.root_crl) {
    if (c.root_crl->crl_number) {
      p.crl_number = *c.root_crl->crl_number;
    } else {
      uint64_t last = CA_TRY(ReadCounter(*c.root_crl->crl_number_file));
      if (last >= (uint64_t{1} << 62))
        return BadInput("root_crl.crl_number_file: counter exhausted");
      p.crl_number = last + 1;
    }
  }
  return p;
}

}  // namespace ca::appliance::ceremony
