#include "crl_ocsp/publish_guard.h"

#include <openssl/x509v3.h>

#include <algorithm>

#include "pki/crl_builder.h"

namespace ca::crl_ocsp {

namespace {

Result<ossl::X509Crl> ParseVerified(std::span<const uint8_t> der, const X509* issuer,
                                    std::string_view which) {
  auto crl = ossl::CrlFromDer(der);
  if (!crl) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(which) + " CRL does not parse: " + crl.error().message);
  }
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl->get()), X509_get_subject_name(issuer)) != 0) {
    return Fail(ErrorCode::kInvalidArgument, std::string(which) + " CRL is not from this issuer");
  }
  EVP_PKEY* key = X509_get0_pubkey(issuer);
  if (key == nullptr || X509_CRL_verify(crl->get(), key) != 1) {
    ossl::DrainErrors();
    return Fail(ErrorCode::kCrypto,
                std::string(which) + " CRL signature does not verify under the issuer key");
  }
  return std::move(*crl);
}

Result<CrlInfo> Fields(X509_CRL* crl) {
  CrlInfo info;
  int crit = 0;
  ossl::Asn1Integer number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, nullptr)));
  if (!number || ASN1_INTEGER_get_uint64(&info.number, number.get()) != 1) {
    ossl::DrainErrors();
    return Fail(ErrorCode::kInvalidArgument, "CRL has no usable CRL number");
  }
  info.this_update = CA_TRY(pki::FromAsn1Time(X509_CRL_get0_lastUpdate(crl)));
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl);
  if (next == nullptr) return Fail(ErrorCode::kInvalidArgument, "CRL has no nextUpdate");
  info.next_update = CA_TRY(pki::FromAsn1Time(next));
  info.entries = static_cast<size_t>(std::max(0, sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl))));
  return info;
}

Status Refuse(std::string message) {
  return Fail(ErrorCode::kFailedPrecondition, std::move(message));
}

}  // namespace

Status CheckCrlScope(const X509_CRL* crl, CrlScope scope, std::string_view shard_url) {
  auto read = pki::ReadIssuingDistributionPoint(crl);
  if (!read) return Refuse(read.error().message);
  const auto& idp = *read;
  if (scope.IsFull()) {
    if (idp) return Refuse("the full CRL must have no issuingDistributionPoint");
    return Ok();
  }
  std::string which = "CRL shard " + std::to_string(*scope.shard);
  if (!idp) return Refuse(which + " has no issuingDistributionPoint");
  if (!idp->critical) return Refuse(which + ": issuingDistributionPoint is not critical");
  if (!idp->only_user_certs || idp->other_fields) {
    return Refuse(which + ": issuingDistributionPoint must be onlyContainsUserCerts only");
  }
  if (idp->url.empty()) return Refuse(which + ": issuingDistributionPoint names no URI");
  if (!shard_url.empty()) {
    if (idp->url != shard_url) {
      return Refuse(which + ": issuingDistributionPoint names " + idp->url + ", expected " +
                    std::string(shard_url));
    }
    return Ok();
  }
  std::string suffix = "/" + std::to_string(*scope.shard) + ".crl";
  if (!idp->url.ends_with(suffix)) {
    return Refuse(which + ": issuingDistributionPoint names " + idp->url +
                  ", not a URL of this shard (ending in " + suffix + ")");
  }
  return Ok();
}

Result<CrlInfo> InspectCrl(std::span<const uint8_t> der, const X509* issuer) {
  if (issuer == nullptr) return Fail(ErrorCode::kInvalidArgument, "issuer certificate required");
  ossl::X509Crl crl = CA_TRY(ParseVerified(der, issuer, "the"));
  return Fields(crl.get());
}

Result<CrlInfo> CheckCrlPublish(std::span<const uint8_t> new_der,
                                std::optional<std::span<const uint8_t>> current, const X509* issuer,
                                const NotAfterBySerial& not_after, CrlScope scope,
                                std::string_view shard_url) {
  if (issuer == nullptr) return Fail(ErrorCode::kInvalidArgument, "issuer certificate required");
  ossl::X509Crl fresh = CA_TRY(ParseVerified(new_der, issuer, "new"));
  CrlInfo info = CA_TRY(Fields(fresh.get()));
  CA_TRY_STATUS(CheckCrlScope(fresh.get(), scope, shard_url));
  if (!current) return info;

  ossl::X509Crl old = CA_TRY(ParseVerified(*current, issuer, "current"));
  CrlInfo old_info = CA_TRY(Fields(old.get()));
  if (info.number <= old_info.number) {
    return Fail(ErrorCode::kFailedPrecondition, "CRL number " + std::to_string(info.number) +
                                                    " is not greater than the current " +
                                                    std::to_string(old_info.number));
  }
  if (info.this_update < old_info.this_update) {
    return Fail(ErrorCode::kFailedPrecondition, "CRL thisUpdate is older than the current CRL's");
  }
  const STACK_OF(X509_REVOKED)* old_entries = X509_CRL_get_REVOKED(old.get());
  for (int i = 0; i < sk_X509_REVOKED_num(old_entries); ++i) {
    X509_REVOKED* entry = sk_X509_REVOKED_value(old_entries, i);
    X509_REVOKED* found = nullptr;
    auto* serial = const_cast<ASN1_INTEGER*>(X509_REVOKED_get0_serialNumber(entry));
    if (X509_CRL_get0_by_serial(fresh.get(), &found, serial) != 0) continue;  // still listed
    pki::Serial s = CA_TRY(pki::Serial::FromAsn1(serial));
    auto it = not_after.find(s.Hex());
    if (it == not_after.end()) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "CRL drops serial " + s.Hex() + " whose certificate expiry is unknown");
    }
    if (old_info.this_update <= it->second) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "CRL drops serial " + s.Hex() +
                      " before a CRL issued after the certificate's expiry listed it");
    }
  }
  return info;
}

}  // namespace ca::crl_ocsp
