#include "appliance/ceremony/ceremony.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "appliance/ceremony/certs.h"
#include "appliance/ceremony/transcript.h"
#include "common/encoding.h"
#include "common/log.h"
#include "pki/crl_builder.h"
#include "pki/lint.h"
#include "pki/serial.h"
#include "pki/time.h"

namespace ca::appliance::ceremony {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr time_t kDay = 86400;

std::string TimeText(const ASN1_TIME* t) {
  auto time = pki::FromAsn1Time(t);
  return time ? pki::FormatRfc3339(*time) : "?";
}

std::string SerialHex(const X509* cert) {
  auto serial = pki::Serial::FromCert(cert);
  return serial ? serial->Hex() : "?";
}

// Everything one execution accumulates; the destructor removes the staging directory unless the
// run committed.
class Run {
 public:
  Run(PreparedCeremony& p, TokenProvider& provider)
      : p_(p),
        c_(p.config),
        provider_(provider),
        transcript_(std::string(CeremonyKindName(p.config.kind)), p.config.operator_name,
                    p.config.token.label, p.config.token.module_path, p.config_sha256_hex) {}

  ~Run() {
    if (!staging_.empty() && !committed_) {
      std::error_code ec;
      fs::remove_all(staging_, ec);
    }
  }

  Result<CeremonyOutcome> Execute();
  const std::vector<std::string>& created_labels() const { return outcome_.created_labels; }

 private:
  Status MakeStagingDir();
  Status WriteArtifact(const std::string& name, std::string_view bytes, unsigned mode = 0644);
  Result<CeremonyKey> NewKey(const KeySpec& spec, const std::string& role);
  // Lints the certificate (signature under the issuer's key included), records the signing step
  // with `key` (what identifies the subject's key) and writes the PEM.
  Result<ossl::X509Ptr> CheckAndRecord(ossl::X509Ptr cert, const X509* issuer, pki::CertRole role,
                                       const std::string& file, const json& key);
  Status MakeTlsServer(const CeremonyKey& issuer_key);
  Status CheckNewLabels();
  Result<CeremonyKey> FindIssuerKey();
  Status SignRootCrl(const X509* root, EVP_PKEY* root_signer, time_t now);
  Result<CeremonyOutcome> SignTranscriptAndCommit(const std::optional<CeremonyKey>& root_key,
                                                  const std::optional<CeremonyKey>& int_key,
                                                  const std::optional<CeremonyKey>& ocsp_key,
                                                  const std::optional<CeremonyKey>& issuer_key);
  Status Commit(const std::optional<TranscriptSigner>& signer, const EVP_PKEY* signer_public);
  json KeyJson(const CeremonyKey& key, const std::string& file, const X509* cert) const;
  Status StoreCerts();

  PreparedCeremony& p_;
  const CeremonyConfig& c_;
  TokenProvider& provider_;
  Transcript transcript_;
  std::unique_ptr<KeyStore> store_;
  std::string staging_;
  bool committed_ = false;
  CeremonyOutcome outcome_;
  json manifest_ = json::object();
  struct PendingCert {
    std::string label;
    std::vector<uint8_t> id;
    const X509* cert;
  };
  std::vector<PendingCert> to_store_;
};

Status Run::MakeStagingDir() {
  staging_ = c_.output_dir + ".partial-" + HexEncode(RandomBytes(6));
  if (mkdir(staging_.c_str(), 0755) != 0) {
    std::string err = std::strerror(errno);
    staging_.clear();
    return Fail(ErrorCode::kIo, "create " + c_.output_dir + ".partial-*: " + err);
  }
  return Ok();
}

Status Run::WriteArtifact(const std::string& name, std::string_view bytes, unsigned mode) {
  CA_TRY_STATUS(ossl::WriteFileAtomic(staging_ + "/" + name, bytes, mode, false));
  transcript_.Artifact(name, bytes);
  outcome_.artifacts.push_back(c_.output_dir + "/" + name);
  return Ok();
}

Result<CeremonyKey> Run::NewKey(const KeySpec& spec, const std::string& role) {
  auto key = store_->Generate(spec.type, spec.label);
  if (!key) {
    return Fail(key.error().code,
                "generate " + role + " key '" + spec.label + "': " + key.error().message);
  }
  outcome_.created_labels.push_back(spec.label);
  auto fp = CA_TRY(ossl::PublicKeyFingerprint(key->public_key.get()));
  transcript_.Step("generate-key",
                   {{"role", role},
                    {"key_label", key->label},
                    {"key_id", HexEncode(key->id)},
                    {"key_type", std::string(KeyTypeLabel(spec.type))},
                    {"public_key_sha256", HexEncode(fp)},
                    {"private_key", "token object: private, sensitive, not extractable"}});
  return key;
}

json TokenKeyRef(const CeremonyKey& key) {
  return {{"key_label", key.label}, {"key_id", HexEncode(key.id)}};
}

Result<ossl::X509Ptr> Run::CheckAndRecord(ossl::X509Ptr cert, const X509* issuer,
                                          pki::CertRole role, const std::string& file,
                                          const json& key) {
  pki::LintOptions options;
  options.staging = c_.kind == CeremonyKind::kStaging;
  const X509* effective_issuer = issuer != nullptr ? issuer : cert.get();
  CA_TRY_STATUS(
      pki::FindingsStatus(pki::LintCertificate(cert.get(), effective_issuer, role, options), file));
  std::string pem = CA_TRY(ossl::CertToPem(cert.get()));
  json step = {{"role", std::string(CeremonyRoleName(role))},
               {"certificate", file},
               {"serial", SerialHex(cert.get())},
               {"subject", NameText(X509_get_subject_name(cert.get()))},
               {"issuer", NameText(X509_get_issuer_name(cert.get()))},
               {"not_before", TimeText(X509_get0_notBefore(cert.get()))},
               {"not_after", TimeText(X509_get0_notAfter(cert.get()))},
               {"sha256_fingerprint", CertSha256Fingerprint(cert.get())},
               {"lint", "passed"}};
  step.update(key);
  transcript_.Step("sign-certificate", std::move(step));
  CA_TRY_STATUS(WriteArtifact(file, pem));
  return cert;
}

// The gateway's HTTPS key never goes near the token: a software key, written once with mode 0600
// and recorded in the transcript by its public key fingerprint (and, like every artifact, the
// file's SHA-256; never the key itself).
Status Run::MakeTlsServer(const CeremonyKey& issuer_key) {
  const TlsServerSection& t = *c_.tls_server;
  const X509* issuer = p_.issuer_cert.get();
  ossl::Pkey key = CA_TRY(GenerateSoftwareKey(t.key_type));
  std::string fingerprint = HexEncode(CA_TRY(ossl::PublicKeyFingerprint(key.get())));
  transcript_.Step("generate-key",
                   {{"role", "tls_server"},
                    {"key_type", std::string(KeyTypeLabel(t.key_type))},
                    {"public_key_sha256", fingerprint},
                    {"private_key", std::string("software key, PKCS#8 PEM in ") +
                                        kTlsServerKeyFile + " (mode 0600), not recorded"}});
  CertSubject s{key.get(), {}, t.subject, p_.now, p_.now + t.validity_days * kDay};
  auto built = CA_TRY(BuildTlsServerCertificate(s, t.names, {issuer, issuer_key.signer.get()}));
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(built.get());  // lint requires one
  json key_ref = {
      {"key_file", kTlsServerKeyFile},
      {"key_id", ski == nullptr ? ""
                                : HexEncode({ASN1_STRING_get0_data(ski),
                                             static_cast<size_t>(ASN1_STRING_length(ski))})},
      {"public_key_sha256", fingerprint}};
  auto cert = CA_TRY(
      CheckAndRecord(std::move(built), issuer, pki::CertRole::kLeaf, kTlsServerCertFile, key_ref));
  Secret key_pem = CA_TRY(PrivateKeyToPkcs8Pem(key.get()));
  CA_TRY_STATUS(WriteArtifact(kTlsServerKeyFile, key_pem.view(), 0600));
  std::string chain = CA_TRY(ossl::CertToPem(cert.get())) + CA_TRY(ossl::CertToPem(issuer));
  CA_TRY_STATUS(WriteArtifact(kTlsServerChainFile, chain));
  manifest_["tls_server"] = {{"certificate", c_.output_dir + "/" + kTlsServerCertFile},
                             {"chain", c_.output_dir + "/" + kTlsServerChainFile},
                             {"key_file", c_.output_dir + "/" + kTlsServerKeyFile},
                             {"key_type", std::string(KeyTypeLabel(t.key_type))},
                             {"public_key_sha256", fingerprint},
                             {"serial", SerialHex(cert.get())},
                             {"subject", NameText(X509_get_subject_name(cert.get()))},
                             {"dns_names", t.names.dns_names},
                             {"ip_addresses", t.names.ip_addresses},
                             {"not_after", TimeText(X509_get0_notAfter(cert.get()))}};
  return Ok();
}

json Run::KeyJson(const CeremonyKey& key, const std::string& file, const X509* cert) const {
  return {{"key_label", key.label},
          {"key_id", HexEncode(key.id)},
          {"key_type", std::string(KeyTypeLabel(key.type))},
          {"certificate", c_.output_dir + "/" + file},
          {"serial", SerialHex(cert)},
          {"subject", NameText(X509_get_subject_name(cert))},
          {"not_after", TimeText(X509_get0_notAfter(cert))}};
}

Status Run::StoreCerts() {
  for (const auto& pc : to_store_) {
    auto stored = store_->StoreCertificate(pc.label, pc.id, pc.cert);
    if (!stored) {
      return Fail(stored.error().code,
                  "store certificate '" + pc.label + "' on the token: " + stored.error().message);
    }
    transcript_.Step("store-certificate", {{"key_label", pc.label}, {"key_id", HexEncode(pc.id)}});
  }
  return Ok();
}

Status Run::Commit(const std::optional<TranscriptSigner>& signer, const EVP_PKEY* signer_public) {
  manifest_["format"] = kManifestFormat;
  manifest_["ceremony"] = std::string(CeremonyKindName(c_.kind));
  manifest_["operator"] = c_.operator_name;
  manifest_["created_at"] = log::NowRfc3339();
  manifest_["token"] = {{"module", c_.token.module_path}, {"label", c_.token.label}};
  manifest_["output_dir"] = c_.output_dir;
  manifest_["transcript"] = c_.output_dir + "/" + kTranscriptFile;
  CA_TRY_STATUS(WriteArtifact(kConfigCopyFile, p_.config_text));
  CA_TRY_STATUS(WriteArtifact(kManifestFile, manifest_.dump(2) + "\n"));

  std::string text = transcript_.Serialize(signer, signer_public);
  CA_TRY_STATUS(ossl::WriteFileAtomic(staging_ + "/" + kTranscriptFile, text, 0644, false));
  if (signer) {
    auto sig = CA_TRY(SignDetached(signer->key, AsBytes(text)));
    CA_TRY_STATUS(
        ossl::WriteFileAtomic(staging_ + "/" + kTranscriptSigFile, AsString(sig), 0644, false));
  }
  // Read back what was written before publishing it.
  auto verified = VerifyTranscriptDir(staging_, nullptr);
  if (!verified)
    return Fail(ErrorCode::kInternal, "self-check of the transcript: " + verified.error().message);
  outcome_.artifacts.push_back(c_.output_dir + "/" + kTranscriptFile);
  if (signer) outcome_.artifacts.push_back(c_.output_dir + "/" + kTranscriptSigFile);

  // Atomic publication: the output directory appears complete or not at all.
  if (renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, c_.output_dir.c_str(), RENAME_NOREPLACE) !=
      0) {
    return Fail(ErrorCode::kIo, "publish " + c_.output_dir + ": " + std::strerror(errno));
  }
  committed_ = true;
  if (c_.root_crl && c_.root_crl->crl_number_file) {
    auto counter = ossl::WriteFileAtomic(*c_.root_crl->crl_number_file,
                                         std::to_string(*p_.crl_number) + "\n", 0644, true);
    if (!counter) {
      std::error_code ec;
      fs::remove_all(c_.output_dir, ec);
      return Fail(counter.error().code, "update CRL counter: " + counter.error().message);
    }
  }
  outcome_.output_dir = c_.output_dir;
  return Ok();
}

Status Run::CheckNewLabels() {
  // Every label is checked before anything is created.
  std::vector<std::pair<std::string, std::string>> new_labels;
  if (c_.root) new_labels.emplace_back("root", c_.root->key.label);
  if (c_.intermediate) new_labels.emplace_back("intermediate", c_.intermediate->key.label);
  if (c_.ocsp_signer) new_labels.emplace_back("ocsp_signer", c_.ocsp_signer->key.label);
  for (const auto& [role, label] : new_labels) {
    if (CA_TRY(store_->HasObject(label))) {
      return Fail(ErrorCode::kAlreadyExists, role + ".key_label: token '" + c_.token.label +
                                                 "' already has an object labelled '" + label +
                                                 "'");
    }
  }
  return Ok();
}

Result<CeremonyKey> Run::FindIssuerKey() {
  auto found = store_->Find(c_.issuer->key_label);
  if (!found) {
    if (found.error().code == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kNotFound, "issuer.key_label: no key labelled '" +
                                            c_.issuer->key_label + "' on token '" + c_.token.label +
                                            "'");
    }
    return std::unexpected(found.error());
  }
  if (EVP_PKEY_eq(found->public_key.get(), X509_get0_pubkey(p_.issuer_cert.get())) != 1) {
    ERR_clear_error();
    return Fail(ErrorCode::kInvalidArgument, "issuer.key_label: key '" + c_.issuer->key_label +
                                                 "' does not match " + c_.issuer->certificate_path);
  }
  transcript_.Step("find-issuer-key",
                   {{"key_label", found->label},
                    {"key_id", HexEncode(found->id)},
                    {"certificate", kIssuerCertFile},
                    {"subject", NameText(X509_get_subject_name(p_.issuer_cert.get()))}});
  return std::move(*found);
}

Status Run::SignRootCrl(const X509* root, EVP_PKEY* root_signer, time_t now) {
  CrlParams params{*p_.crl_number, now, now + c_.root_crl->next_update_days * kDay,
                   c_.root_crl->revoked};
  auto der = CA_TRY(BuildRootCrl(params, {root, root_signer}));
  auto crl = CA_TRY(ossl::CrlFromDer(der));
  CA_TRY_STATUS(pki::FindingsStatus(pki::LintCrl(crl.get(), root), "root CRL"));
  std::string pem = CA_TRY(pki::CrlDerToPem(der));
  CA_TRY_STATUS(WriteArtifact(kRootCrlPemFile, pem));
  CA_TRY_STATUS(WriteArtifact(kRootCrlDerFile, AsString(der)));
  json revoked = json::array();
  for (const auto& r : c_.root_crl->revoked) revoked.push_back(r.serial_hex);
  transcript_.Step("sign-crl", {{"crl", kRootCrlPemFile},
                                {"crl_number", *p_.crl_number},
                                {"this_update", TimeText(X509_CRL_get0_lastUpdate(crl.get()))},
                                {"next_update", TimeText(X509_CRL_get0_nextUpdate(crl.get()))},
                                {"revoked_serials", revoked},
                                {"lint", "passed"}});
  manifest_["root_crl"] = {{"crl_pem", c_.output_dir + "/" + kRootCrlPemFile},
                           {"crl_der", c_.output_dir + "/" + kRootCrlDerFile},
                           {"crl_number", *p_.crl_number},
                           {"next_update", TimeText(X509_CRL_get0_nextUpdate(crl.get()))}};
  return Ok();
}

// The transcript is signed by the key this run created on the token (the root when it made
// one), or by the issuer's key for a CRL-only or TLS server ceremony.
Result<CeremonyOutcome> Run::SignTranscriptAndCommit(const std::optional<CeremonyKey>& root_key,
                                                     const std::optional<CeremonyKey>& int_key,
                                                     const std::optional<CeremonyKey>& ocsp_key,
                                                     const std::optional<CeremonyKey>& issuer_key) {
  TranscriptSigner signer;
  const EVP_PKEY* signer_public = nullptr;
  const CeremonyKey* k = root_key   ? &*root_key
                         : int_key  ? &*int_key
                         : ocsp_key ? &*ocsp_key
                                    : &*issuer_key;
  signer.key_label = k->label;
  signer.key_id = k->id;
  signer.key = k->signer.get();
  signer.certificate = root_key   ? kRootCertFile
                       : int_key  ? kIntermediateCertFile
                       : ocsp_key ? kOcspSignerCertFile
                                  : kIssuerCertFile;
  signer_public = k->public_key.get();
  transcript_.Step("sign-transcript", {{"key_label", k->label}, {"key_id", HexEncode(k->id)}});
  CA_TRY_STATUS(Commit(signer, signer_public));
  return outcome_;
}

Result<CeremonyOutcome> Run::Execute() {
  if (c_.kind == CeremonyKind::kInitToken) {
    CA_TRY_STATUS(
        provider_.InitToken(c_.token.module_path, c_.token.label, p_.so_pin, p_.user_pin));
    transcript_.Step(
        "init-token",
        {{"token_label", c_.token.label},
         {"module", c_.token.module_path},
         {"so_pin", "set (from " +
                        c_.token.so_pin_source.substr(0, c_.token.so_pin_source.find(':')) +
                        " source)"},
         {"user_pin", "set"}});
    // The new token must accept the user PIN.
    store_ = CA_TRY(provider_.Open(c_.token.module_path, c_.token.label, std::move(p_.user_pin)));
    transcript_.Step("login", {{"token_label", c_.token.label}, {"result", "user PIN accepted"}});
    CA_TRY_STATUS(MakeStagingDir());
    CA_TRY_STATUS(Commit(std::nullopt, nullptr));
    return outcome_;
  }

  store_ = CA_TRY(provider_.Open(c_.token.module_path, c_.token.label, std::move(p_.user_pin)));
  transcript_.Step("login", {{"token_label", c_.token.label}});

  CA_TRY_STATUS(CheckNewLabels());
  std::optional<CeremonyKey> issuer_key;
  if (c_.issuer) issuer_key = CA_TRY(FindIssuerKey());

  CA_TRY_STATUS(MakeStagingDir());
  if (c_.issuer) CA_TRY_STATUS(WriteArtifact(kIssuerCertFile, p_.issuer_cert_pem));

  std::optional<CeremonyKey> root_key, int_key, ocsp_key;
  ossl::X509Ptr root_cert, int_cert, ocsp_cert;
  const time_t now = p_.now;

  if (c_.root) {
    root_key = CA_TRY(NewKey(c_.root->key, "root"));
    CertSubject s{root_key->public_key.get(), root_key->id, c_.root->subject, now,
                  now + c_.root->validity_days * kDay};
    auto cert = BuildRootCertificate(s, root_key->signer.get());
    if (!cert) return std::unexpected(cert.error());
    root_cert = CA_TRY(CheckAndRecord(std::move(*cert), nullptr, pki::CertRole::kRoot,
                                      kRootCertFile, TokenKeyRef(*root_key)));
    manifest_["root"] = KeyJson(*root_key, kRootCertFile, root_cert.get());
    outcome_.root = RootSummary{NameText(X509_get_subject_name(root_cert.get())),
                                CertSha256Fingerprint(root_cert.get())};
    to_store_.push_back({root_key->label, root_key->id, root_cert.get()});
  }
  const X509* root_for_int = root_cert ? root_cert.get() : p_.issuer_cert.get();
  EVP_PKEY* root_signer =
      root_key ? root_key->signer.get() : (issuer_key ? issuer_key->signer.get() : nullptr);

  if (c_.intermediate) {
    int_key = CA_TRY(NewKey(c_.intermediate->key, "intermediate"));
    CertSubject s{int_key->public_key.get(), int_key->id, c_.intermediate->subject, now,
                  now + c_.intermediate->validity_days * kDay};
    IntermediateExtras extras{c_.intermediate->crl_url, c_.intermediate->ca_issuers_url,
                              c_.intermediate->permitted_dns, c_.intermediate->excluded_dns};
    auto cert = CA_TRY(BuildIntermediateCertificate(s, extras, {root_for_int, root_signer}));
    int_cert = CA_TRY(CheckAndRecord(std::move(cert), root_for_int, pki::CertRole::kIntermediate,
                                     kIntermediateCertFile, TokenKeyRef(*int_key)));
    manifest_["intermediate"] = KeyJson(*int_key, kIntermediateCertFile, int_cert.get());
    to_store_.push_back({int_key->label, int_key->id, int_cert.get()});
  }

  if (c_.ocsp_signer) {
    const X509* int_for_ocsp = int_cert ? int_cert.get() : p_.issuer_cert.get();
    EVP_PKEY* int_signer = int_key ? int_key->signer.get() : issuer_key->signer.get();
    ocsp_key = CA_TRY(NewKey(c_.ocsp_signer->key, "ocsp_signer"));
    CertSubject s{ocsp_key->public_key.get(), ocsp_key->id, c_.ocsp_signer->subject, now,
                  now + c_.ocsp_signer->validity_days * kDay};
    auto cert = CA_TRY(BuildOcspSignerCertificate(s, {int_for_ocsp, int_signer}));
    ocsp_cert = CA_TRY(CheckAndRecord(std::move(cert), int_for_ocsp, pki::CertRole::kOcspSigner,
                                      kOcspSignerCertFile, TokenKeyRef(*ocsp_key)));
    manifest_["ocsp_signer"] = KeyJson(*ocsp_key, kOcspSignerCertFile, ocsp_cert.get());
    to_store_.push_back({ocsp_key->label, ocsp_key->id, ocsp_cert.get()});
  }

  if (c_.root_crl) CA_TRY_STATUS(SignRootCrl(root_for_int, root_signer, now));
  if (c_.tls_server) CA_TRY_STATUS(MakeTlsServer(*issuer_key));
  if (c_.issuer) {
    manifest_["issuer"] = {{"key_label", issuer_key->label},
                           {"key_id", HexEncode(issuer_key->id)},
                           {"certificate", c_.output_dir + "/" + kIssuerCertFile}};
  }

  CA_TRY_STATUS(StoreCerts());

  return SignTranscriptAndCommit(root_key, int_key, ocsp_key, issuer_key);
}

}  // namespace

Result<CeremonyOutcome> ExecuteCeremony(PreparedCeremony prepared, TokenProvider& provider) {
  Run run(prepared, provider);
  auto outcome = run.Execute();
  if (!outcome && !run.created_labels().empty()) {
    // Files are rolled back by Run; hsm::Token offers no object deletion, so name the keys this
    // run created for the operator to remove before retrying.
    std::string labels;
    for (const auto& l : run.created_labels()) labels += (labels.empty() ? "" : ", ") + l;
    return Fail(
        outcome.error().code,
        outcome.error().message + " (keys created on the token by this run: " + labels + ")");
  }
  return outcome;
}

}  // namespace ca::appliance::ceremony
