#include "pki/testing/build_test_ca.h"

#include <openssl/evp.h>
#include <openssl/objects.h>

#include <cstdlib>

#include "common/encoding.h"

namespace ca::pki::testing {

namespace {

using namespace std::chrono;

template <class T>
T Must(Result<T> r) {
  if (!r) std::abort();
  return std::move(*r);
}

ossl::X509Name Name(const char* cn) {
  std::vector<NameAttribute> attrs{{"C", "FR", MBSTRING_ASC}, {"O", "Test PKI"}, {"CN", cn}};
  return Must(BuildName(attrs));
}

Bytes Ski(const X509* cert) {
  const ASN1_OCTET_STRING* s = X509_get0_subject_key_id(const_cast<X509*>(cert));
  return Bytes(ASN1_STRING_get0_data(s), ASN1_STRING_get0_data(s) + ASN1_STRING_length(s));
}

std::vector<ossl::X509Ext> Exts(std::initializer_list<Result<ossl::X509Ext>> list) {
  std::vector<ossl::X509Ext> out;
  for (const auto& r : list) {
    if (!r) std::abort();
    out.push_back(ossl::X509Ext(X509_EXTENSION_dup(r->get())));
  }
  return out;
}

TestCa Make() {
  TestCa ca;
  ca.now = floor<seconds>(system_clock::now());
  ca.root_key = MakeEcKey("P-384");
  ca.intermediate_key = MakeRsaKey(3072);
  ca.ocsp_key = MakeEcKey();
  ca.leaf_key = MakeEcKey();

  ossl::X509Name root_name = Name("Test Root");
  ossl::Asn1Integer s1 = SerialOf(16);
  ca.root = Must(
      BuildSignedCertificate(RootDescription(ca, root_name.get(), s1.get()), ca.root_key.get()));

  ossl::X509Name inter_name = Name("Test Intermediate");
  ossl::Asn1Integer s2 = SerialOf(16);
  std::vector<std::string> permitted{"example.test"}, excluded{"bad.example.test"};
  static constexpr KeyUsageBit kCaUsage[] = {kKeyCertSign, kCrlSign};
  static constexpr int kServerAuth[] = {NID_server_auth};
  CertDescription inter{
      s2.get(),
      inter_name.get(),
      X509_get_subject_name(ca.root.get()),
      ca.intermediate_key.get(),
      ca.now - hours(1),
      ca.now + days(3000),
      Exts({SubjectKeyIdExt(Must(KeyIdentifierOf(ca.intermediate_key.get()))),
            BasicConstraintsExt(true, 0), KeyUsageExt(kCaUsage), ExtendedKeyUsageExt(kServerAuth),
            AuthorityKeyIdExt(Ski(ca.root.get())),
            CrlDistributionPointExt("http://crl.example.test/root.crl"),
            AuthorityInfoAccessExt("", "http://ca.example.test/root.cer"),
            NameConstraintsExt(permitted, excluded)})};
  ca.intermediate = Must(BuildSignedCertificate(inter, ca.root_key.get()));

  ossl::X509Name ocsp_name = Name("Test OCSP");
  ossl::Asn1Integer s3 = SerialOf(16);
  static constexpr KeyUsageBit kSign[] = {kDigitalSignature};
  static constexpr int kOcsp[] = {NID_OCSP_sign};
  CertDescription ocsp{s3.get(),
                       ocsp_name.get(),
                       X509_get_subject_name(ca.intermediate.get()),
                       ca.ocsp_key.get(),
                       ca.now - hours(1),
                       ca.now + days(300),
                       Exts({SubjectKeyIdExt(Must(KeyIdentifierOf(ca.ocsp_key.get()))),
                             BasicConstraintsExt(false, std::nullopt), KeyUsageExt(kSign),
                             ExtendedKeyUsageExt(kOcsp),
                             AuthorityKeyIdExt(Ski(ca.intermediate.get())), OcspNoCheckExt()})};
  ca.ocsp = Must(BuildSignedCertificate(ocsp, ca.intermediate_key.get()));

  ossl::X509Name leaf_name = Name("www.example.test");
  ossl::Asn1Integer s4 = SerialOf(18);
  ca.leaf = Must(BuildSignedCertificate(LeafDescription(ca, leaf_name.get(), s4.get()),
                                        ca.intermediate_key.get()));
  return ca;
}

}  // namespace

ossl::Pkey MakeEcKey(const char* curve) {
  return ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

ossl::Pkey MakeRsaKey(int bits) {
  return ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
}

ossl::Asn1Integer SerialOf(size_t octets) {
  Bytes bytes = RandomBytes(octets);
  bytes[0] = static_cast<uint8_t>((bytes[0] & 0x3f) | 0x40);
  ossl::Asn1Integer out(ASN1_INTEGER_new());
  ASN1_STRING_set(out.get(), bytes.data(), static_cast<int>(bytes.size()));
  return out;
}

CertDescription RootDescription(const TestCa& ca, const X509_NAME* subject,
                                const ASN1_INTEGER* serial) {
  Bytes id = Must(KeyIdentifierOf(ca.root_key.get()));
  static constexpr KeyUsageBit kCaUsage[] = {kKeyCertSign, kCrlSign};
  return {serial,
          subject,
          nullptr,
          ca.root_key.get(),
          ca.now - hours(1),
          ca.now + days(7000),
          Exts({SubjectKeyIdExt(id), BasicConstraintsExt(true, 1), KeyUsageExt(kCaUsage),
                AuthorityKeyIdExt(id)})};
}

CertDescription LeafDescription(const TestCa& ca, const X509_NAME* subject,
                                const ASN1_INTEGER* serial) {
  static constexpr KeyUsageBit kSign[] = {kDigitalSignature};
  static constexpr int kServerAuth[] = {NID_server_auth};
  std::vector<std::string> dns{"www.example.test"};
  std::vector<std::string> ips{"10.0.0.1"};
  return {serial,
          subject,
          X509_get_subject_name(ca.intermediate.get()),
          ca.leaf_key.get(),
          ca.now - hours(1),
          ca.now + days(90),
          Exts({SubjectKeyIdExt(Must(KeyIdentifierOf(ca.leaf_key.get()))),
                BasicConstraintsExt(false, std::nullopt), KeyUsageExt(kSign),
                ExtendedKeyUsageExt(kServerAuth), AuthorityKeyIdExt(Ski(ca.intermediate.get())),
                SubjectAltNameExt(dns, ips)})};
}

const TestCa& GetTestCa() {
  static const TestCa ca = Make();
  return ca;
}

}  // namespace ca::pki::testing
