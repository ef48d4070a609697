// Golden certificates: one per profile (and staging), issued from a software test root +
// intermediate, compared field by field through OpenSSL and through `openssl x509 -text`.
#include <gtest/gtest.h>

#include <openssl/pem.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "common/encoding.h"
#include "pki/cert_builder.h"
#include "profiles/issuance/csr_check.h"
#include "profiles/issuance/lint.h"
#include "pki/serial.h"
#include "profiles/issuance/tbs.h"
#include "profiles/issuance/testing/test_pki.h"

namespace ca::profiles::issuance {
namespace {

using namespace std::chrono;
using testing::GetTestCa;

struct Issued {
  TbsRequest request;
  ossl::X509Ptr cert;
};

Issued IssueWith(const Profile& profile, std::vector<std::string> names) {
  const auto& ca = GetTestCa();
  Issued out;
  out.request.organization = testing::TestOrganization();
  out.request.names = std::move(names);
  out.request.public_key = testing::Rsa3072(1);
  out.request.serial = pki::Serial::Generate();
  out.request.now = floor<seconds>(system_clock::now());
  auto tbs = BuildTbs(profile, ca.issuer, out.request);
  EXPECT_TRUE(tbs) << tbs.error().ToString();
  if (!tbs) return out;
  auto lint = LintTbs(tbs->get(), profile, ca.issuer, out.request);
  EXPECT_TRUE(lint) << lint.error().message;
  EXPECT_GT(X509_sign(tbs->get(), const_cast<EVP_PKEY*>(ca.intermediate_key), EVP_sha256()), 0);
  auto lint2 = LintCertificate(tbs->get(), profile, ca.issuer, out.request);
  EXPECT_TRUE(lint2) << lint2.error().message;
  out.cert = std::move(*tbs);
  return out;
}

std::string OpensslText(const X509* cert) {
  auto pem = ossl::CertToPem(cert);
  EXPECT_TRUE(pem);
  std::string dir = std::filesystem::temp_directory_path() / ("golden-" + RandomUuidV4());
  std::filesystem::create_directory(dir);
  std::string path = dir + "/cert.pem";
  std::ofstream(path) << *pem;
  std::string cmd =
      std::string(CA_OPENSSL_BIN) + " x509 -noout -text -nameopt oneline,-esc_msb -in " + path;
  std::string out;
  if (FILE* f = popen(cmd.c_str(), "r")) {
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
    EXPECT_EQ(pclose(f), 0);
  }
  std::filesystem::remove_all(dir);
  return out;
}

// Lines of `text` with surrounding spaces trimmed.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    size_t a = line.find_first_not_of(' ');
    size_t b = line.find_last_not_of(' ');
    out.push_back(a == std::string::npos ? "" : line.substr(a, b - a + 1));
    start = end + 1;
  }
  return out;
}

// Asserts `block` appears as consecutive lines.
void ExpectBlock(const std::vector<std::string>& lines, const std::vector<std::string>& block) {
  for (size_t i = 0; i + block.size() <= lines.size(); ++i) {
    if (std::equal(block.begin(), block.end(), lines.begin() + static_cast<std::ptrdiff_t>(i)))
      return;
  }
  std::string want;
  for (const auto& l : block) want += l + "\n";
  ADD_FAILURE() << "missing block:\n" << want;
}

std::string OpensslTime(sys_seconds t) {
  time_t tt = t.time_since_epoch().count();
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[64];
  strftime(buf, sizeof(buf), "%b %e %H:%M:%S %Y GMT", &tm);
  return buf;
}

void FreeStack(STACK_OF(X509) * s) {
  sk_X509_free(s);
}

void ExpectChainVerifies(X509* leaf) {
  const auto& ca = GetTestCa();
  ossl::X509Store store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.root.get());
  ossl::Owned<STACK_OF(X509), FreeStack> untrusted(sk_X509_new_null());
  sk_X509_push(untrusted.get(), ca.intermediate.get());
  ossl::X509StoreCtx ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted.get());
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  EXPECT_EQ(X509_verify_cert(ctx.get()), 1)
      << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

void CheckCommonFields(const Issued& issued, const Profile& profile, const std::string& cn) {
  X509* c = issued.cert.get();
  EXPECT_EQ(X509_get_version(c), X509_VERSION_3);
  auto serial = pki::Serial::FromAsn1(X509_get0_serialNumber(c));
  ASSERT_TRUE(serial);
  EXPECT_EQ(*serial, issued.request.serial);
  EXPECT_EQ(
      X509_NAME_cmp(X509_get_issuer_name(c), X509_get_subject_name(GetTestCa().intermediate.get())),
      0);
  EXPECT_EQ(X509_get_signature_nid(c), NID_sha256WithRSAEncryption);
  // Inclusive validity is exactly 90 days: notAfter − notBefore = 90 d − 1 s.
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(c), X509_get0_notAfter(c)), 1);
  EXPECT_EQ(days * 86400 + secs, 90 * 86400 - 1);
  EXPECT_EQ(
      ASN1_TIME_cmp_time_t(X509_get0_notBefore(c), issued.request.now.time_since_epoch().count()),
      0);
  // Extensions through OpenSSL's decoded view.
  EXPECT_EQ(X509_get_extension_flags(c) & EXFLAG_CA, 0u);
  EXPECT_EQ(X509_get_key_usage(c),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(X509_get_extended_key_usage(c), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(c),
                                  X509_get0_subject_key_id(GetTestCa().intermediate.get())),
            0);
  unsigned char md[20];
  unsigned int len = 0;
  ASSERT_EQ(X509_pubkey_digest(c, EVP_sha1(), md, &len), 1);
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(c);
  ASSERT_NE(ski, nullptr);
  EXPECT_EQ(std::vector<uint8_t>(md, md + len),
            std::vector<uint8_t>(ASN1_STRING_get0_data(ski),
                                 ASN1_STRING_get0_data(ski) + ASN1_STRING_length(ski)));
  int crit = 0;
  auto* bc =
      static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(c, NID_basic_constraints, &crit, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_EQ(crit, 1);
  EXPECT_EQ(bc->ca, 0);
  BASIC_CONSTRAINTS_free(bc);
  auto* san =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(c, NID_subject_alt_name, &crit, nullptr));
  ASSERT_NE(san, nullptr);
  ASSERT_EQ(sk_GENERAL_NAME_num(san), static_cast<int>(issued.request.names.size()));
  for (int i = 0; i < sk_GENERAL_NAME_num(san); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(san, i);
    ASSERT_EQ(gn->type, GEN_DNS);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName))),
              issued.request.names[static_cast<size_t>(i)]);
  }
  GENERAL_NAMES_free(san);
  char buf[256];
  ASSERT_GT(X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, buf, sizeof(buf)),
            0);
  EXPECT_EQ(std::string(buf), cn);
  ASSERT_GT(
      X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_organizationName, buf, sizeof(buf)),
      0);
  EXPECT_EQ(std::string(buf), "Exemple Hôpital SA");
  ExpectChainVerifies(c);
  (void)profile;
}

void CheckOpensslText(const Issued& issued, const Profile& profile, const std::string& cn,
                      const std::string& san_line) {
  auto lines = Lines(OpensslText(issued.cert.get()));
  const auto& ca = GetTestCa();
  ExpectBlock(lines, {"Version: 3 (0x2)"});
  ExpectBlock(lines, {"Signature Algorithm: sha256WithRSAEncryption"});
  ExpectBlock(lines, {"Subject: C = FR, L = Paris, O = Exemple Hôpital SA, CN = " + cn});
  ExpectBlock(lines, {"Not Before: " + OpensslTime(issued.request.now),
                      "Not After : " + OpensslTime(issued.request.now + days(90) - seconds(1))});
  ExpectBlock(lines, {"Public-Key: (3072 bit)"});
  ExpectBlock(lines, {"X509v3 Key Usage: critical", "Digital Signature, Key Encipherment"});
  ExpectBlock(lines, {"X509v3 Extended Key Usage:", "TLS Web Server Authentication"});
  ExpectBlock(lines, {"X509v3 Basic Constraints: critical", "CA:FALSE"});
  ExpectBlock(lines, {"X509v3 Subject Alternative Name:", san_line});
  std::vector<std::string> policies = {"X509v3 Certificate Policies:"};
  for (const auto& oid : profile.policy_oids) policies.push_back("Policy: " + oid);
  ExpectBlock(lines, policies);
  ExpectBlock(lines, {"Authority Information Access:", "OCSP - URI:" + ca.issuer.ocsp_url,
                      "CA Issuers - URI:" + ca.issuer.ca_issuers_url});
  ExpectBlock(lines, {"X509v3 CRL Distribution Points:", "Full Name:", "URI:" + ca.issuer.crl_url});
  ExpectBlock(lines, {"X509v3 Subject Key Identifier:"});
  ExpectBlock(lines, {"X509v3 Authority Key Identifier:"});
  // Nothing else: exactly nine extensions.
  EXPECT_EQ(X509_get_ext_count(issued.cert.get()), 9);
}

TEST(GoldenTest, SslProfile) {
  Profile profile = testing::RepoProfile(ProfileId::kSsl);
  Issued issued = IssueWith(profile, {"www.example.fr", "example.fr"});
  ASSERT_TRUE(issued.cert);
  CheckCommonFields(issued, profile, "www.example.fr");
  CheckOpensslText(issued, profile, "www.example.fr", "DNS:www.example.fr, DNS:example.fr");
  EXPECT_EQ(profile.policy_oids,
            (std::vector<std::string>{"2.23.140.1.2.2", "1.3.6.1.4.1.32473.1.1.1"}));
}

TEST(GoldenTest, SslRgsProfileSingleName) {
  Profile profile = testing::RepoProfile(ProfileId::kSslRgs);
  Issued issued = IssueWith(profile, {"intranet.example.fr"});
  ASSERT_TRUE(issued.cert);
  CheckCommonFields(issued, profile, "intranet.example.fr");
  CheckOpensslText(issued, profile, "intranet.example.fr", "DNS:intranet.example.fr");
  EXPECT_EQ(profile.policy_oids.size(), 3u);
}

TEST(GoldenTest, WildProfile) {
  Profile profile = testing::RepoProfile(ProfileId::kWild);
  Issued issued = IssueWith(profile, {"*.example.fr", "*.app.example.fr"});
  ASSERT_TRUE(issued.cert);
  CheckCommonFields(issued, profile, "*.example.fr");
  CheckOpensslText(issued, profile, "*.example.fr", "DNS:*.example.fr, DNS:*.app.example.fr");
}

// Names of the extensions of `c`, in order.
std::vector<int> ExtensionNids(const X509* c) {
  std::vector<int> out;
  for (int i = 0; i < X509_get_ext_count(c); ++i)
    out.push_back(OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(c, i))));
  return out;
}

// SSL_SHORT (SC-063 short-lived): 6 days, AIA with caIssuers only, no CRL distribution point.
TEST(GoldenTest, ShortLivedProfileHasNoRevocationPointers) {
  for (Environment env : {Environment::kProduction, Environment::kStaging}) {
    Profile profile = testing::RepoProfile(ProfileId::kSslShort, env);
    ASSERT_FALSE(profile.revocation.ocsp);
    ASSERT_FALSE(profile.revocation.crl);
    Issued issued = IssueWith(profile, {"svc.example.fr"});
    ASSERT_TRUE(issued.cert);
    X509* c = issued.cert.get();
    int days_diff = 0, secs = 0;
    ASSERT_EQ(ASN1_TIME_diff(&days_diff, &secs, X509_get0_notBefore(c), X509_get0_notAfter(c)), 1);
    EXPECT_EQ(days_diff * 86400 + secs, 6 * 86400 - 1);
    EXPECT_EQ(ExtensionNids(c),
              (std::vector<int>{NID_key_usage, NID_ext_key_usage, NID_basic_constraints,
                                NID_subject_key_identifier, NID_authority_key_identifier,
                                NID_info_access, NID_subject_alt_name, NID_certificate_policies}));
    auto lines = Lines(OpensslText(c));
    const auto& ca = GetTestCa();
    ExpectBlock(lines, {"Authority Information Access:",
                        "CA Issuers - URI:" + ca.issuer.ca_issuers_url});
    for (const auto& line : lines) {
      EXPECT_EQ(line.find("OCSP"), std::string::npos) << line;
      EXPECT_EQ(line.find("CRL Distribution"), std::string::npos) << line;
    }
    ExpectChainVerifies(c);
  }
}

// OCSP off alone (any profile may): the AIA keeps caIssuers, the CRL distribution point stays.
TEST(GoldenTest, OcspOffKeepsTheCrl) {
  Profile profile = testing::RepoProfile(ProfileId::kSsl);
  profile.revocation.ocsp = false;
  Issued issued = IssueWith(profile, {"www.example.fr"});
  ASSERT_TRUE(issued.cert);
  auto lines = Lines(OpensslText(issued.cert.get()));
  const auto& ca = GetTestCa();
  ExpectBlock(lines, {"Authority Information Access:", "CA Issuers - URI:" + ca.issuer.ca_issuers_url});
  ExpectBlock(lines, {"X509v3 CRL Distribution Points:", "Full Name:", "URI:" + ca.issuer.crl_url});
  EXPECT_EQ(X509_get_ext_count(issued.cert.get()), 9);
}

TEST(GoldenTest, StagingPutsTestInCn) {
  Profile profile = testing::RepoProfile(ProfileId::kSsl, Environment::kStaging);
  Issued issued = IssueWith(profile, {"www.example.fr"});
  ASSERT_TRUE(issued.cert);
  CheckCommonFields(issued, profile, "TEST www.example.fr");
  CheckOpensslText(issued, profile, "TEST www.example.fr", "DNS:www.example.fr");
  EXPECT_EQ(profile.policy_oids[1], "1.3.6.1.4.1.32473.9.1.1");
}

TEST(GoldenTest, ShorterValidityAndBackdateAreExact) {
  Profile profile = testing::RepoProfile(ProfileId::kSsl);
  profile.backdate = minutes(30);
  const auto& ca = GetTestCa();
  TbsRequest r;
  r.organization = testing::TestOrganization();
  r.names = {"a.example.fr"};
  r.public_key = testing::Rsa3072(1);
  r.serial = pki::Serial::Generate();
  r.now = sys_seconds(seconds(1800000000));
  r.validity = days(7);
  auto tbs = BuildTbs(profile, ca.issuer, r);
  ASSERT_TRUE(tbs) << tbs.error().message;
  EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notBefore(tbs->get()), 1800000000 - 1800), 0);
  EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notAfter(tbs->get()), 1800000000 - 1800 + 7 * 86400 - 1),
            0);
  EXPECT_TRUE(LintTbs(tbs->get(), profile, ca.issuer, r));
}

TEST(GoldenTest, LongFirstNameIsNotTheCn) {
  Profile profile = testing::RepoProfile(ProfileId::kSsl);
  std::string long_name = std::string(60, 'a') + ".example.fr";  // 71 characters
  auto cn = SubjectCommonName(profile, std::vector<std::string>{long_name, "b.example.fr"});
  ASSERT_TRUE(cn);
  EXPECT_EQ(*cn, "b.example.fr");
  EXPECT_FALSE(SubjectCommonName(profile, std::vector<std::string>{long_name}));
  Profile staging = testing::RepoProfile(ProfileId::kSsl, Environment::kStaging);
  EXPECT_EQ(SubjectCommonName(staging, std::vector<std::string>{long_name}), "TEST");
}

TEST(BuildTbsTest, RefusesBadInputs) {
  Profile profile = testing::RepoProfile(ProfileId::kSsl);
  const auto& ca = GetTestCa();
  TbsRequest good;
  good.organization = testing::TestOrganization();
  good.names = {"a.example.fr"};
  good.public_key = testing::Rsa3072(1);
  good.serial = pki::Serial::Generate();
  good.now = floor<seconds>(system_clock::now());
  auto expect_error = [&](TbsRequest r, const Issuer& issuer, const std::string& needle) {
    auto tbs = BuildTbs(profile, issuer, r);
    ASSERT_FALSE(tbs) << needle;
    EXPECT_EQ(tbs.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(tbs.error().message.find(needle), std::string::npos) << tbs.error().message;
  };
  TbsRequest r = good;
  r.validity = days(91);
  expect_error(r, ca.issuer, "exceeds the profile");
  r = good;
  r.names = {"*.example.fr"};
  expect_error(r, ca.issuer, "does not accept wildcard");
  r = good;
  r.organization.country = "fr";
  expect_error(r, ca.issuer, "country");
  r = good;
  r.serial = pki::Serial{std::vector<uint8_t>(21, 0x11)};
  expect_error(r, ca.issuer, "exceed 20");
  Issuer bad_issuer = ca.issuer;
  bad_issuer.crl_url = "ftp://crl";
  expect_error(good, bad_issuer, "crl_url");
  Profile disabled = profile;
  disabled.enabled = false;
  auto tbs = BuildTbs(disabled, ca.issuer, good);
  ASSERT_FALSE(tbs);
  EXPECT_EQ(tbs.error().code, ErrorCode::kPermissionDenied);
}

// The DER of a CSR signed by `key` for `name`, its SPKI altered by `alter` before signing: the
// engine hands CheckCsr the DER (X509_REQ_dup, the other path, re-encodes the SPKI itself).
template <class Alter>
Bytes CsrWithSpki(const EVP_PKEY* key, const std::string& name, Alter alter) {
  ossl::X509Req csr = testing::MakeCsr(key, std::nullopt, {name});
  alter(X509_REQ_get_X509_PUBKEY(csr.get()));
  EXPECT_GT(X509_REQ_sign(csr.get(), const_cast<EVP_PKEY*>(key), EVP_sha256()), 0);
  auto der = ossl::CsrToDer(csr.get());
  EXPECT_TRUE(der);
  return der ? *der : Bytes{};
}

Bytes SpkiDerOf(const X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(const_cast<X509*>(cert)), &der);
  Bytes out(der, der + std::max(len, 0));
  OPENSSL_free(der);
  return out;
}

// The engine passes the CSR's SubjectPublicKeyInfo to BuildTbs, which reuses it only when it is
// the canonical encoding of the key. CSRs that encode the same key another way (OpenSSL decodes
// both) yield the very TBS a canonical CSR yields, and the key index sees one key.
TEST(BuildTbsTest, CsrSpkiReusedOnlyWhenCanonical) {
  Profile profile = testing::RepoProfile(ProfileId::kSsl);
  const auto& ca = GetTestCa();
  const EVP_PKEY* key = testing::Rsa3072(1);
  const Bytes canonical = *ossl::PublicKeyToDer(key);
  TbsRequest r;
  r.organization = testing::TestOrganization();
  r.names = {"a.example.fr"};
  r.public_key = key;
  r.serial = pki::Serial::Generate();
  r.now = floor<seconds>(system_clock::now());
  auto encoded = BuildTbs(profile, ca.issuer, r);  // no SPKI given: the key encoded by OpenSSL
  ASSERT_TRUE(encoded) << encoded.error().message;
  const Bytes expected = *ossl::CertToDer(encoded->get());
  EXPECT_EQ(SpkiDerOf(encoded->get()), canonical);

  struct Case {
    const char* what;
    bool canonical;
    Bytes csr_der;
  };
  std::vector<Case> cases;
  cases.push_back({"canonical", true, CsrWithSpki(key, "a.example.fr", [](X509_PUBKEY*) {})});
  // RFC 3279 wants rsaEncryption's NULL parameters present; OpenSSL accepts them absent.
  cases.push_back(
      {"absent NULL parameters", false, CsrWithSpki(key, "a.example.fr", [](X509_PUBKEY* spki) {
         X509_PUBKEY_set0_param(spki, OBJ_nid2obj(NID_rsaEncryption), V_ASN1_UNDEF, nullptr,
                                nullptr, 0);
       })});
  // The RSAPublicKey's SEQUENCE length in a non-minimal long form (BER, not DER): 30 82 LL LL
  // becomes 30 83 00 LL LL. Deliberately malformed input, hence bytes edited by hand.
  cases.push_back(
      {"non-minimal length", false, CsrWithSpki(key, "a.example.fr", [](X509_PUBKEY* spki) {
         const unsigned char* bits = nullptr;
         int len = 0;
         X509_PUBKEY_get0_param(nullptr, &bits, &len, nullptr, spki);
         ASSERT_TRUE(len > 4 && bits[0] == 0x30 && bits[1] == 0x82);
         Bytes ber = {0x30, 0x83, 0x00};
         ber.insert(ber.end(), bits + 2, bits + len);
         auto* copy = static_cast<unsigned char*>(OPENSSL_memdup(ber.data(), ber.size()));
         X509_PUBKEY_set0_param(spki, OBJ_nid2obj(NID_rsaEncryption), V_ASN1_NULL, nullptr, copy,
                                static_cast<int>(ber.size()));
       })});
  for (Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto decoded = ossl::CsrFromDer(c.csr_der);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(pki::IsCanonicalSpkiOf(X509_REQ_get_X509_PUBKEY(decoded->get()), key), c.canonical);
    CsrCheckRequest check;
    check.csr_der = c.csr_der;
    check.names = r.names;
    check.known_key = [](std::span<const uint8_t>) -> Result<bool> { return false; };
    auto accepted = CheckCsr(profile, check);
    ASSERT_TRUE(accepted) << accepted.error().message;  // the same key, encoded another way
    EXPECT_EQ(accepted->spki_sha256, Sha256(canonical));
    TbsRequest from_csr = r;
    from_csr.public_key = accepted->public_key.get();
    from_csr.public_key_info = accepted->public_key_info();
    EXPECT_EQ(pki::IsCanonicalSpkiOf(from_csr.public_key_info, key), c.canonical);
    auto tbs = BuildTbs(profile, ca.issuer, from_csr);
    ASSERT_TRUE(tbs) << tbs.error().message;
    EXPECT_EQ(*ossl::CertToDer(tbs->get()), expected);
    auto linted = LintTbs(tbs->get(), profile, ca.issuer, from_csr);
    ASSERT_TRUE(linted) << linted.error().message;
    EXPECT_EQ(SpkiDerOf(linted->certificate.get()), canonical);
  }
}

}  // namespace
}  // namespace ca::profiles::issuance
