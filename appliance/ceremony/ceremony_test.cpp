#include "appliance/ceremony/ceremony.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <openssl/pem.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "appliance/ceremony/transcript.h"
#include "common/encoding.h"
#include "pki/lint.h"

namespace ca::appliance::ceremony {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using pki::CertRole;
using pki::LintCertificate;
using pki::LintCrl;

// A token in memory with software keys: what the runner does with it is what it does with the
// HSM (hsm_key_store_test covers the PKCS#11 side).
struct MemoryToken {
  std::string pin;
  std::map<std::string, std::pair<hsm::KeyType, ossl::Pkey>> keys;
  std::map<std::string, std::string> certs;  // label -> PEM
  bool fail_store_certificate = false;
};

class MemoryKeyStore : public KeyStore {
 public:
  explicit MemoryKeyStore(MemoryToken& token) : token_(token) {}
  Result<bool> HasObject(const std::string& label) override {
    return token_.keys.contains(label) || token_.certs.contains(label);
  }
  Result<CeremonyKey> Generate(hsm::KeyType type, const std::string& label) override {
    ossl::Pkey key;
    switch (type) {
      case hsm::KeyType::kRsa3072:
        key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{3072}));
        break;
      case hsm::KeyType::kRsa4096:
        key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{4096}));
        break;
      case hsm::KeyType::kEcP256:
        key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
        break;
      case hsm::KeyType::kEcP384:
        key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
        break;
    }
    token_.keys[label] = {type, std::move(key)};
    return Find(label);
  }
  Result<CeremonyKey> Find(const std::string& label) override {
    auto it = token_.keys.find(label);
    if (it == token_.keys.end()) return Fail(ErrorCode::kNotFound, "no key " + label);
    EVP_PKEY* k = it->second.second.get();
    EVP_PKEY_up_ref(k);
    EVP_PKEY_up_ref(k);
    auto fp = ossl::PublicKeyFingerprint(k);
    return CeremonyKey{label, Bytes(fp->begin(), fp->begin() + 20), it->second.first, ossl::Pkey(k),
                       ossl::Pkey(k)};
  }
  Status StoreCertificate(const std::string& label, const std::vector<uint8_t>&,
                          const X509* cert) override {
    if (token_.fail_store_certificate)
      return Fail(ErrorCode::kHsm, "C_CreateObject: CKR_DEVICE_MEMORY");
    token_.certs[label] = *ossl::CertToPem(cert);
    return Ok();
  }

 private:
  MemoryToken& token_;
};

class MemoryProvider : public TokenProvider {
 public:
  Status InitToken(const std::string&, const std::string& label, const Secret&,
                   const Secret& user_pin) override {
    if (tokens.contains(label)) return Fail(ErrorCode::kAlreadyExists, "token exists");
    tokens[label].pin = std::string(user_pin.view());
    return Ok();
  }
  Result<std::unique_ptr<KeyStore>> Open(const std::string&, const std::string& label,
                                         Secret pin) override {
    auto it = tokens.find(label);
    if (it == tokens.end()) return Fail(ErrorCode::kNotFound, "no token " + label);
    if (it->second.pin != pin.view())
      return Fail(ErrorCode::kPermissionDenied, "C_Login: CKR_PIN_INCORRECT");
    return std::unique_ptr<KeyStore>(new MemoryKeyStore(it->second));
  }
  std::map<std::string, MemoryToken> tokens;
};

class CeremonyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("ceremony-test-" + HexEncode(RandomBytes(6)))).string();
    fs::create_directory(dir_);
    ASSERT_TRUE(ossl::WriteFileAtomic(dir_ + "/pin", "1234\n", 0600, false));
    // Any existing regular file stands in for the module: the memory provider never loads it.
    ASSERT_TRUE(ossl::WriteFileAtomic(dir_ + "/module.so", "", 0644, false));
    provider_.tokens["tok"].pin = "1234";
  }
  void TearDown() override { fs::remove_all(dir_); }

  json Token() const {
    return {
        {"module", dir_ + "/module.so"}, {"label", "tok"}, {"user_pin", "file:" + dir_ + "/pin"}};
  }
  json AllConfig(const std::string& out) const {
    return {
        {"ceremony", "all"},
        {"operator", "Alice"},
        {"token", Token()},
        {"output_dir", dir_ + "/" + out},
        {"root", {{"key_label", "root"}, {"key_type", "ec-p384"}, {"subject", {{"CN", "Root"}}}}},
        {"intermediate",
         {{"key_label", "acme"},
          {"key_type", "rsa3072"},
          {"subject", {{"CN", "ACME"}}},
          {"crl_url", "http://x/root.crl"},
          {"ca_issuers_url", "http://x/root.cer"}}},
        {"ocsp_signer", {{"key_label", "ocsp"}, {"subject", {{"CN", "OCSP"}}}}},
        {"root_crl", {{"crl_number_file", dir_ + "/crl.counter"}}}};
  }
  json TlsServerConfig(const std::string& out, const std::string& issuer_dir) const {
    return {
        {"ceremony", "tls-server"},
        {"operator", "Alice"},
        {"token", Token()},
        {"output_dir", dir_ + "/" + out},
        {"issuer",
         {{"key_label", "acme"}, {"certificate", dir_ + "/" + issuer_dir + "/intermediate.pem"}}},
        {"tls_server",
         {{"subject", {{"O", "Org"}, {"CN", "acme.example.com"}}},
          {"dns_names", {"acme.example.com", "example.com"}},
          {"ip_addresses", {"127.0.0.1", "::1"}},
          {"validity_days", 397}}}};
  }
  Result<CeremonyOutcome> Run(const json& config) {
    auto prepared = PrepareCeremonyFromText(config.dump(2), time(nullptr));
    if (!prepared) return std::unexpected(prepared.error());
    return ExecuteCeremony(std::move(*prepared), provider_);
  }
  size_t EntriesInDir() const {
    return static_cast<size_t>(
        std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }

  std::string dir_;
  MemoryProvider provider_;
};

TEST_F(CeremonyTest, AllProducesLintedChainManifestAndTranscript) {
  auto outcome = Run(AllConfig("out"));
  ASSERT_TRUE(outcome) << outcome.error().message;
  std::string out = dir_ + "/out";
  EXPECT_EQ(outcome->output_dir, out);
  EXPECT_EQ(outcome->created_labels, (std::vector<std::string>{"root", "acme", "ocsp"}));
  auto root = *ossl::CertFromPem(*ossl::ReadFile(out + "/root.pem"));
  auto inter = *ossl::CertFromPem(*ossl::ReadFile(out + "/intermediate.pem"));
  auto ocsp = *ossl::CertFromPem(*ossl::ReadFile(out + "/ocsp-signer.pem"));
  EXPECT_TRUE(LintCertificate(root.get(), root.get(), CertRole::kRoot).empty());
  EXPECT_TRUE(LintCertificate(inter.get(), root.get(), CertRole::kIntermediate).empty());
  EXPECT_TRUE(LintCertificate(ocsp.get(), inter.get(), CertRole::kOcspSigner).empty());
  // The root's key is the one on the token, and its certificate was stored there too.
  auto& token = provider_.tokens["tok"];
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(root.get()), token.keys["root"].second.get()), 1);
  EXPECT_EQ(token.certs["acme"], *ossl::ReadFile(out + "/intermediate.pem"));

  json manifest = json::parse(*ossl::ReadFile(out + "/ceremony.json"));
  EXPECT_EQ(manifest["format"], kManifestFormat);
  EXPECT_EQ(manifest["intermediate"]["key_label"], "acme");
  EXPECT_EQ(manifest["intermediate"]["certificate"], out + "/intermediate.pem");
  EXPECT_EQ(manifest["ocsp_signer"]["key_label"], "ocsp");
  EXPECT_EQ(manifest["ocsp_signer"]["key_type"], "ec-p256");
  EXPECT_EQ(manifest["root_crl"]["crl_number"], 1);
  EXPECT_EQ(manifest["token"]["label"], "tok");

  json transcript = json::parse(*ossl::ReadFile(out + "/transcript.json"));
  EXPECT_EQ(transcript["config_sha256"], HexEncode(Sha256(*ossl::ReadFile(out + "/config.json"))));
  EXPECT_EQ(transcript["signer"]["key_label"], "root");
  std::vector<std::string> actions;
  for (const auto& s : transcript["steps"]) actions.push_back(s["action"]);
  EXPECT_EQ(actions,
            (std::vector<std::string>{"login", "generate-key", "sign-certificate", "generate-key",
                                      "sign-certificate", "generate-key", "sign-certificate",
                                      "sign-crl", "store-certificate", "store-certificate",
                                      "store-certificate", "sign-transcript"}));
  auto report = VerifyTranscriptDir(out, root.get());
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->artifacts, 7u);
  EXPECT_EQ(*ossl::ReadFile(dir_ + "/crl.counter"), "1\n");
  EXPECT_EQ(EntriesInDir(), 4u);  // pin, module.so, crl.counter, out: no staging leftovers
}

TEST_F(CeremonyTest, SeparateCeremoniesChainThroughFiles) {
  json root = AllConfig("root");
  root["ceremony"] = "root";
  for (const char* k : {"intermediate", "ocsp_signer", "root_crl"}) root.erase(k);
  ASSERT_TRUE(Run(root));
  json inter = AllConfig("int");
  inter["ceremony"] = "intermediate";
  for (const char* k : {"root", "ocsp_signer", "root_crl"}) inter.erase(k);
  inter["issuer"] = {{"key_label", "root"}, {"certificate", dir_ + "/root/root.pem"}};
  auto outcome = Run(inter);
  ASSERT_TRUE(outcome) << outcome.error().message;
  auto r = *ossl::CertFromPem(*ossl::ReadFile(dir_ + "/root/root.pem"));
  auto i = *ossl::CertFromPem(*ossl::ReadFile(dir_ + "/int/intermediate.pem"));
  EXPECT_TRUE(LintCertificate(i.get(), r.get(), CertRole::kIntermediate).empty());
  // The transcript is signed by the intermediate key, its certificate chains to the root.
  EXPECT_TRUE(VerifyTranscriptDir(dir_ + "/int", r.get()));
  EXPECT_EQ(*ossl::ReadFile(dir_ + "/int/issuer.pem"), *ossl::ReadFile(dir_ + "/root/root.pem"));

  json crl = AllConfig("crl");
  crl["ceremony"] = "root-crl";
  for (const char* k : {"root", "intermediate", "ocsp_signer"}) crl.erase(k);
  crl["issuer"] = {{"key_label", "root"}, {"certificate", dir_ + "/root/root.pem"}};
  crl["root_crl"] = {{"crl_number", 9}};
  ASSERT_TRUE(Run(crl));
  auto der = *ossl::ReadFile(dir_ + "/crl/root-crl.crl");
  auto parsed = ossl::CrlFromDer(AsBytes(der));
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(LintCrl(parsed->get(), r.get()).empty());
}

TEST_F(CeremonyTest, IntermediateBeforeRootFailsAndChangesNothing) {
  json root = AllConfig("root");
  root["ceremony"] = "root";
  for (const char* k : {"intermediate", "ocsp_signer", "root_crl"}) root.erase(k);
  ASSERT_TRUE(Run(root));
  json inter = AllConfig("int");
  inter["ceremony"] = "intermediate";
  for (const char* k : {"root", "ocsp_signer", "root_crl"}) inter.erase(k);
  inter["issuer"] = {{"key_label", "no-root"}, {"certificate", dir_ + "/root/root.pem"}};
  auto outcome = Run(inter);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(outcome.error().message, "issuer.key_label: no key labelled 'no-root' on token 'tok'");
  EXPECT_FALSE(fs::exists(dir_ + "/int"));
  EXPECT_FALSE(provider_.tokens["tok"].keys.contains("acme"));
}

TEST_F(CeremonyTest, ExistingLabelIsRefusedBeforeAnythingIsCreated) {
  provider_.tokens["tok"].certs["ocsp"] = "already here";
  auto outcome = Run(AllConfig("out"));
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(outcome.error().message,
            "ocsp_signer.key_label: token 'tok' already has an object labelled 'ocsp'");
  EXPECT_TRUE(provider_.tokens["tok"].keys.empty());
  EXPECT_FALSE(fs::exists(dir_ + "/out"));
  EXPECT_FALSE(fs::exists(dir_ + "/crl.counter"));
}

TEST_F(CeremonyTest, FailureMidwayRemovesFilesAndNamesCreatedKeys) {
  provider_.tokens["tok"].fail_store_certificate = true;
  auto outcome = Run(AllConfig("out"));
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::kHsm);
  EXPECT_EQ(
      outcome.error().message,
      "store certificate 'root' on the token: C_CreateObject: CKR_DEVICE_MEMORY (keys created on "
      "the token by this run: root, acme, ocsp)");
  EXPECT_EQ(EntriesInDir(), 2u);  // pin, module.so: no output, no staging dir, no counter
}

TEST_F(CeremonyTest, PrepareRefusesExistingOutputAndBadSources) {
  fs::create_directory(dir_ + "/out");
  auto prepared = PrepareCeremonyFromText(AllConfig("out").dump(), time(nullptr));
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(prepared.error().message,
            "output_dir " + dir_ + "/out already exists (refusing to overwrite)");

  json c = AllConfig("out2");
  c["token"]["module"] = dir_ + "/missing.so";
  prepared = PrepareCeremonyFromText(c.dump(), time(nullptr));
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().message,
            "token.module: PKCS#11 module " + dir_ + "/missing.so does not exist");

  c = AllConfig("out2");
  c["token"]["user_pin"] = "env:CEREMONY_TEST_UNSET_PIN";
  prepared = PrepareCeremonyFromText(c.dump(), time(nullptr));
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().message,
            "token.user_pin: environment variable CEREMONY_TEST_UNSET_PIN is not set");

  ASSERT_TRUE(ossl::WriteFileAtomic(dir_ + "/crl.counter", "seven\n", 0644, false));
  prepared = PrepareCeremonyFromText(AllConfig("out2").dump(), time(nullptr));
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().message,
            "root_crl.crl_number_file: " + dir_ + "/crl.counter does not hold a decimal number");
}

TEST_F(CeremonyTest, WrongPinFailsWithoutOutputs) {
  ASSERT_TRUE(ossl::WriteFileAtomic(dir_ + "/pin", "0000\n", 0600, true));
  auto outcome = Run(AllConfig("out"));
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::kPermissionDenied);
  EXPECT_FALSE(fs::exists(dir_ + "/out"));
}

TEST_F(CeremonyTest, IssuerCertificateMustOutliveTheChild) {
  json root = AllConfig("root");
  root["ceremony"] = "root";
  for (const char* k : {"intermediate", "ocsp_signer", "root_crl"}) root.erase(k);
  root["root"]["validity_days"] = 365;
  ASSERT_TRUE(Run(root));
  json inter = AllConfig("int");
  inter["ceremony"] = "intermediate";
  for (const char* k : {"root", "ocsp_signer", "root_crl"}) inter.erase(k);
  inter["issuer"] = {{"key_label", "root"}, {"certificate", dir_ + "/root/root.pem"}};
  auto prepared = PrepareCeremonyFromText(inter.dump(), time(nullptr));
  ASSERT_FALSE(prepared);
  EXPECT_NE(prepared.error().message.find(
                "intermediate.validity_days: would end after the issuer certificate"),
            std::string::npos);
}

TEST_F(CeremonyTest, TlsServerIssuesASoftwareKeyCertificateUnderTheIntermediate) {
  json all = AllConfig("ca");
  all["intermediate"]["permitted_dns"] = {"example.com"};
  ASSERT_TRUE(Run(all));
  auto& token = provider_.tokens["tok"];
  const size_t keys_before = token.keys.size(), certs_before = token.certs.size();

  auto outcome = Run(TlsServerConfig("tls", "ca"));
  ASSERT_TRUE(outcome) << outcome.error().message;
  std::string out = dir_ + "/tls";
  EXPECT_TRUE(outcome->created_labels.empty());
  EXPECT_EQ(token.keys.size(), keys_before);  // nothing on the token
  EXPECT_EQ(token.certs.size(), certs_before);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(out)) files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files,
            (std::vector<std::string>{"ceremony.json", "config.json", "issuer.pem",
                                      "tls-server-chain.pem", "tls-server.key", "tls-server.pem",
                                      "transcript.json", "transcript.json.sig"}));

  // The key: PKCS#8 PEM, mode 0600, the certificate's key.
  struct stat st {};
  ASSERT_EQ(stat((out + "/tls-server.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  std::string key_pem = *ossl::ReadFile(out + "/tls-server.key");
  EXPECT_TRUE(key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
  ossl::Bio bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  ossl::Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(key);
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));  // ec-p256 by default
  auto root = *ossl::CertFromPem(*ossl::ReadFile(dir_ + "/ca/root.pem"));
  auto inter = *ossl::CertFromPem(*ossl::ReadFile(dir_ + "/ca/intermediate.pem"));
  auto leaf = *ossl::CertFromPem(*ossl::ReadFile(out + "/tls-server.pem"));
  EXPECT_EQ(X509_check_private_key(leaf.get(), key.get()), 1);
  EXPECT_TRUE(LintCertificate(leaf.get(), inter.get(), CertRole::kLeaf).empty());

  // The chain file: the leaf, then the intermediate; a TLS client accepts it for the gateway's
  // names.
  auto chain = *ossl::CertsFromPem(*ossl::ReadFile(out + "/tls-server-chain.pem"));
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(X509_cmp(chain[0].get(), leaf.get()), 0);
  EXPECT_EQ(X509_cmp(chain[1].get(), inter.get()), 0);
  ossl::X509Store store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), root.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  sk_X509_push(untrusted, chain[1].get());
  ossl::X509StoreCtx ctx(X509_STORE_CTX_new());
  ASSERT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted), 1);
  X509_VERIFY_PARAM_set_purpose(X509_STORE_CTX_get0_param(ctx.get()), X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx.get()), "acme.example.com", 0);
  EXPECT_EQ(X509_verify_cert(ctx.get()), 1)
      << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  sk_X509_free(untrusted);

  // The transcript: signed by the issuer's key, records the key's fingerprint, never the key.
  auto report = VerifyTranscriptDir(out, root.get());
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->signer_label, "acme");
  std::string text = *ossl::ReadFile(out + "/transcript.json");
  json transcript = json::parse(text);
  EXPECT_EQ(transcript["ceremony"], "tls-server");
  EXPECT_EQ(transcript["signer"]["certificate"], "issuer.pem");
  std::vector<std::string> actions;
  for (const auto& step : transcript["steps"]) actions.push_back(step["action"]);
  EXPECT_EQ(actions, (std::vector<std::string>{"login", "find-issuer-key", "generate-key",
                                               "sign-certificate", "sign-transcript"}));
  std::string fingerprint = HexEncode(*ossl::PublicKeyFingerprint(X509_get0_pubkey(leaf.get())));
  EXPECT_EQ(transcript["steps"][2]["role"], "tls_server");
  EXPECT_EQ(transcript["steps"][2]["public_key_sha256"], fingerprint);
  EXPECT_EQ(transcript["steps"][3]["role"], "tls-server");
  EXPECT_EQ(transcript["steps"][3]["public_key_sha256"], fingerprint);
  EXPECT_EQ(transcript["steps"][3]["key_file"], "tls-server.key");
  EXPECT_EQ(text.find("PRIVATE KEY"), std::string::npos);
  std::string key_body = key_pem.substr(key_pem.find('\n') + 1, 40);
  EXPECT_EQ(text.find(key_body), std::string::npos);
  std::map<std::string, std::string> hashes;
  for (const auto& a : transcript["artifacts"]) hashes[a["name"]] = a["sha256"];
  for (const char* f : {"issuer.pem", "tls-server.pem", "tls-server.key", "tls-server-chain.pem",
                        "config.json", "ceremony.json"}) {
    EXPECT_EQ(hashes[f], HexEncode(Sha256(*ossl::ReadFile(out + "/" + f)))) << f;
  }

  json manifest = json::parse(*ossl::ReadFile(out + "/ceremony.json"));
  EXPECT_EQ(manifest["tls_server"]["certificate"], out + "/tls-server.pem");
  EXPECT_EQ(manifest["tls_server"]["chain"], out + "/tls-server-chain.pem");
  EXPECT_EQ(manifest["tls_server"]["key_file"], out + "/tls-server.key");
  EXPECT_EQ(manifest["tls_server"]["key_type"], "ec-p256");
  EXPECT_EQ(manifest["tls_server"]["ip_addresses"], (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(manifest["issuer"]["key_label"], "acme");
}

TEST_F(CeremonyTest, TlsServerRsaKeyAndRefusals) {
  json all = AllConfig("ca");
  all["intermediate"]["permitted_dns"] = {"example.com"};
  ASSERT_TRUE(Run(all));

  json rsa = TlsServerConfig("tls-rsa", "ca");
  rsa["tls_server"]["key_type"] = "rsa3072";
  ASSERT_TRUE(Run(rsa));
  auto leaf = *ossl::CertFromPem(*ossl::ReadFile(dir_ + "/tls-rsa/tls-server.pem"));
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(leaf.get())), 3072);
  EXPECT_EQ(X509_get_key_usage(leaf.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));

  auto refused = [&](json config) {
    auto prepared = PrepareCeremonyFromText(config.dump(), time(nullptr));
    if (prepared) return std::string("(prepared)");
    EXPECT_EQ(prepared.error().code, ErrorCode::kInvalidArgument);
    return prepared.error().message;
  };
  json c = TlsServerConfig("bad", "ca");
  c["tls_server"]["dns_names"] = {"acme.example.com", "localhost"};
  EXPECT_EQ(refused(c),
            "tls_server.dns_names[1]: 'localhost' is not allowed by the issuer's name constraints "
            "(permitted "
            "subtree violation)");
  c = TlsServerConfig("bad", "ca");
  c["issuer"] = {{"key_label", "root"}, {"certificate", dir_ + "/ca/root.pem"}};
  EXPECT_EQ(refused(c),
            "issuer.certificate: " + dir_ +
                "/ca/root.pem is a self-signed root (the TLS server certificate is issued by the "
                "ACME intermediate)");
  c = TlsServerConfig("bad", "ca");
  c["issuer"]["certificate"] = dir_ + "/ca/ocsp-signer.pem";
  EXPECT_EQ(refused(c),
            "issuer.certificate: " + dir_ + "/ca/ocsp-signer.pem is not a CA certificate");

  // An intermediate that ends in 30 days cannot issue a 397-day certificate.
  json short_ca = AllConfig("short");
  short_ca["ceremony"] = "intermediate";
  for (const char* k : {"root", "ocsp_signer", "root_crl"}) short_ca.erase(k);
  short_ca["issuer"] = {{"key_label", "root"}, {"certificate", dir_ + "/ca/root.pem"}};
  short_ca["intermediate"]["key_label"] = "acme-short";
  short_ca["intermediate"]["validity_days"] = 30;
  ASSERT_TRUE(Run(short_ca));
  c = TlsServerConfig("bad", "short");
  c["issuer"]["key_label"] = "acme-short";
  EXPECT_NE(refused(c).find("tls_server.validity_days: would end after the issuer certificate"),
            std::string::npos);
  c["tls_server"]["validity_days"] = 29;
  EXPECT_EQ(refused(c), "(prepared)");

  // The issuer key must be the certificate's: checked on the token, before anything is written.
  c = TlsServerConfig("bad", "ca");
  c["issuer"]["key_label"] = "ocsp";
  auto outcome = Run(c);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().message,
            "issuer.key_label: key 'ocsp' does not match " + dir_ + "/ca/intermediate.pem");
  EXPECT_FALSE(fs::exists(dir_ + "/bad"));
}

TEST_F(CeremonyTest, InitTokenWritesUnsignedTranscript) {
  ASSERT_TRUE(ossl::WriteFileAtomic(dir_ + "/sopin", "5678\n", 0600, false));
  json c = {{"ceremony", "init-token"},
            {"operator", "Alice"},
            {"token",
             {{"module", dir_ + "/module.so"},
              {"label", "fresh"},
              {"user_pin", "file:" + dir_ + "/pin"},
              {"so_pin", "file:" + dir_ + "/sopin"}}},
            {"output_dir", dir_ + "/init"}};
  auto outcome = Run(c);
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(provider_.tokens["fresh"].pin, "1234");
  auto report = VerifyTranscriptDir(dir_ + "/init", nullptr);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_FALSE(report->signed_);
  // Again: the token exists.
  c["output_dir"] = dir_ + "/init2";
  auto again = Run(c);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_FALSE(fs::exists(dir_ + "/init2"));
}

}  // namespace
}  // namespace ca::appliance::ceremony
