#include "pki/csr.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <iterator>
#include <set>

#include "common/encoding.h"
#include "pki/cert_builder.h"

namespace ca::pki {

namespace {

std::unexpected<Error> Refuse(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, "CSR refused: " + std::move(message));
}

void FreeExtensions(STACK_OF(X509_EXTENSION) * s) {
  sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}

std::string JoinNames(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

Status ReadCommonNames(const X509_REQ* csr, CsrFacts& out) {
  const X509_NAME* subject = X509_REQ_get_subject_name(csr);
  int idx = -1;
  while ((idx = X509_NAME_get_index_by_NID(subject, NID_commonName, idx)) >= 0) {
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) return Refuse("the subject CN cannot be decoded");
    out.common_names.push_back(
        AsciiLower(std::string_view(reinterpret_cast<char*>(utf8), static_cast<size_t>(len))));
    OPENSSL_free(utf8);
  }
  return Ok();
}

Status ReadSanDnsNames(const X509_REQ* csr, CsrFacts& out) {
  ossl::Owned<STACK_OF(X509_EXTENSION), FreeExtensions> extensions(
      X509_REQ_get_extensions(const_cast<X509_REQ*>(csr)));
  if (!extensions) return Ok();
  int san_index = X509v3_get_ext_by_NID(extensions.get(), NID_subject_alt_name, -1);
  if (san_index < 0) return Ok();
  if (X509v3_get_ext_by_NID(extensions.get(), NID_subject_alt_name, san_index) >= 0) {
    return Refuse("more than one subjectAltName extension");
  }
  out.has_san = true;
  ossl::GeneralNames names(
      static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(X509v3_get_ext(extensions.get(), san_index))));
  if (!names) return Refuse("the subjectAltName extension cannot be parsed");
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_DNS) {
      return Refuse(
          "subjectAltName holds a name that is not a dNSName (only DNS identifiers are issued)");
    }
    const ASN1_IA5STRING* dns = gn->d.dNSName;
    out.san_dns_names.push_back(
        AsciiLower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                    static_cast<size_t>(ASN1_STRING_length(dns)))));
  }
  return Ok();
}

Result<KeyFacts> ReadKeyFacts(const X509_REQ* csr, const EVP_PKEY* key) {
  KeyFacts facts;
  const char* type = EVP_PKEY_get0_type_name(key);
  facts.type = type != nullptr ? type : "unknown";
  facts.bits = EVP_PKEY_get_bits(key);
  char group[64] = {};
  size_t group_len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &group_len) == 1) {
    facts.curve.assign(group, group_len);
  }
  ossl::DrainErrors();  // a key without a group is an answer, not an error
  // The SubjectPublicKeyInfo the certificate will carry, which the engine's key index hashes: the
  // CSR's bytes when they are the canonical encoding of the key (no encoder), else the key encoded
  // by OpenSSL, so that one key encoded another way is still the same key for the index.
  const X509_PUBKEY* carried = X509_REQ_get_X509_PUBKEY(const_cast<X509_REQ*>(csr));
  if (!IsCanonicalSpkiOf(carried, key)) {
    facts.spki_der = CA_TRY(ossl::PublicKeyToDer(key));
  } else {
    unsigned char* spki = nullptr;
    int len = i2d_X509_PUBKEY(carried, &spki);
    if (len <= 0) return ossl::CryptoFail("encode CSR SubjectPublicKeyInfo");
    facts.spki_der.assign(spki, spki + len);
    OPENSSL_free(spki);
  }
  facts.spki_sha256 = Sha256(facts.spki_der);
  return facts;
}

// Reads the request it is given (the facts keep it).
Result<CsrFacts> ReadOwned(ossl::X509Req request) {
  CsrFacts out;
  out.request = std::move(request);
  X509_REQ* csr = out.request.get();
  EVP_PKEY* key = X509_REQ_get0_pubkey(csr);
  if (key == nullptr) {
    ossl::DrainErrors();
    return Refuse("no readable public key");
  }
  int verified = X509_REQ_verify(csr, key);
  ossl::DrainErrors();
  if (verified != 1) return Refuse("the signature does not verify with the CSR's public key");
  if (EVP_PKEY_up_ref(key) != 1) return ossl::CryptoFail("hold CSR key");
  out.public_key.reset(key);
  out.key = CA_TRY(ReadKeyFacts(csr, key));
  CA_TRY_STATUS(ReadCommonNames(csr, out));
  CA_TRY_STATUS(ReadSanDnsNames(csr, out));
  return out;
}

}  // namespace

Result<CsrFacts> ReadCsr(std::span<const uint8_t> der) {
  auto request = ossl::CsrFromDer(der);
  if (!request) {
    ossl::DrainErrors();
    return Refuse("not a DER PKCS#10 request");
  }
  // The decoded request itself: X509_REQ_dup would encode and decode it once more, and OpenSSL
  // 3's decoders for the public key were ~5 % of the gateway's CPU.
  return ReadOwned(std::move(*request));
}

Result<CsrFacts> ReadCsr(const X509_REQ* request) {
  if (request == nullptr) return Refuse("no CSR");
  ossl::X509Req copy(X509_REQ_dup(request));
  if (!copy) return ossl::CryptoFail("copy CSR");
  return ReadOwned(std::move(copy));
}

Result<std::vector<std::string>> CsrNames(const CsrFacts& csr) {
  if (csr.common_names.size() > 1) return Refuse("the subject has more than one CN");
  std::vector<std::string> names = csr.has_san ? csr.san_dns_names : csr.common_names;
  if (csr.has_san && !csr.common_names.empty() &&
      std::ranges::find(names, csr.common_names.front()) == names.end()) {
    return Refuse("the subject CN '" + csr.common_names.front() +
                  "' is not among the subjectAltName names");
  }
  if (names.empty()) return Refuse("no names: neither subjectAltName dNSNames nor CN");
  for (const std::string& name : names) {
    if (name.ends_with('.')) return Refuse("the name '" + name + "' ends with a dot");
  }
  return names;
}

Status CheckCsrNames(const CsrFacts& csr, std::span<const std::string> order_names) {
  std::vector<std::string> names = CA_TRY(CsrNames(csr));
  std::set<std::string> got(names.begin(), names.end());
  std::set<std::string> wanted;
  for (const std::string& n : order_names) wanted.insert(AsciiLower(n));
  if (got == wanted) return Ok();
  std::set<std::string> missing, extra;
  std::ranges::set_difference(wanted, got, std::inserter(missing, missing.end()));
  std::ranges::set_difference(got, wanted, std::inserter(extra, extra.end()));
  std::string detail = "the names differ from the order's";
  if (!missing.empty()) detail += "; missing: " + JoinNames(missing);
  if (!extra.empty()) detail += "; not in the order: " + JoinNames(extra);
  return Refuse(detail);
}

}  // namespace ca::pki
