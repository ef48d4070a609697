// RAII owners for OpenSSL handles and small helpers that turn OpenSSL failures into ca::Error.
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ca::ossl {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept {
    if (p != nullptr) Free(p);
  }
};

template <class T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Free>>;

using Pkey = Owned<EVP_PKEY, EVP_PKEY_free>;
using PkeyCtx = Owned<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using MdCtx = Owned<EVP_MD_CTX, EVP_MD_CTX_free>;
using Md = Owned<EVP_MD, EVP_MD_free>;
using CipherCtx = Owned<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;
using X509Ptr = Owned<X509, X509_free>;
using X509Req = Owned<X509_REQ, X509_REQ_free>;
using X509Crl = Owned<X509_CRL, X509_CRL_free>;
using X509Revoked = Owned<X509_REVOKED, X509_REVOKED_free>;
using X509Name = Owned<X509_NAME, X509_NAME_free>;
using X509Ext = Owned<X509_EXTENSION, X509_EXTENSION_free>;
using X509Store = Owned<X509_STORE, X509_STORE_free>;
using X509StoreCtx = Owned<X509_STORE_CTX, X509_STORE_CTX_free>;
using X509Algor = Owned<X509_ALGOR, X509_ALGOR_free>;
using Bio = Owned<BIO, BIO_free_all>;
using Bn = Owned<BIGNUM, BN_free>;
using BnCtx = Owned<BN_CTX, BN_CTX_free>;
using Asn1Integer = Owned<ASN1_INTEGER, ASN1_INTEGER_free>;
using Asn1Time = Owned<ASN1_TIME, ASN1_TIME_free>;
using Asn1OctetString = Owned<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using Asn1Object = Owned<ASN1_OBJECT, ASN1_OBJECT_free>;
using GeneralNames = Owned<GENERAL_NAMES, GENERAL_NAMES_free>;
using BasicConstraints = Owned<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>;
using OcspRequest = Owned<OCSP_REQUEST, OCSP_REQUEST_free>;
using OcspResponse = Owned<OCSP_RESPONSE, OCSP_RESPONSE_free>;
using OcspBasicResp = Owned<OCSP_BASICRESP, OCSP_BASICRESP_free>;
using OcspCertId = Owned<OCSP_CERTID, OCSP_CERTID_free>;

using Bytes = std::vector<uint8_t>;

// Drains the OpenSSL error queue into one line ("; "-joined), for error messages.
std::string DrainErrors();

// Fail(kCrypto, "<what>: <openssl errors>").
std::unexpected<Error> CryptoFail(std::string_view what);

// DER / PEM conversions (OpenSSL does all encoding; nothing here builds ASN.1 by hand).
Result<Bytes> CertToDer(const X509* cert);
Result<X509Ptr> CertFromDer(std::span<const uint8_t> der);
Result<std::string> CertToPem(const X509* cert);
// PEM armour around certificate DER that is known good (e.g. read back from a store): no parse.
Result<std::string> CertDerToPem(std::span<const uint8_t> der);
Result<X509Ptr> CertFromPem(std::string_view pem);
Result<std::vector<X509Ptr>> CertsFromPem(std::string_view pem);  // a chain / bundle
Result<X509Req> CsrFromDer(std::span<const uint8_t> der);
Result<X509Req> CsrFromPem(std::string_view pem);
Result<Bytes> CsrToDer(const X509_REQ* req);
Result<Bytes> PublicKeyToDer(const EVP_PKEY* key);  // SubjectPublicKeyInfo DER
Result<Pkey> PublicKeyFromDer(std::span<const uint8_t> der);
Result<std::string> PublicKeyToPem(const EVP_PKEY* key);
Result<Pkey> PublicKeyFromPem(std::string_view pem);  // one SubjectPublicKeyInfo PEM block
Result<Bytes> CrlToDer(const X509_CRL* crl);
Result<X509Crl> CrlFromDer(std::span<const uint8_t> der);

// SHA-256 of the SubjectPublicKeyInfo DER: the key fingerprint used for key-reuse checks.
Result<Bytes> PublicKeyFingerprint(const EVP_PKEY* key);

// Files.
Result<std::string> ReadFile(const std::string& path);
// Writes atomically (temp file + fsync + rename) with the given mode; fails if path exists and
// !overwrite.
Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode,
                       bool overwrite);

}  // namespace ca::ossl
