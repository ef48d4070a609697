#include "profiles/issuance/lint.h"

#include <openssl/objects.h>

#include "profiles/issuance/dns_names.h"
#include "profiles/issuance/weak_key.h"

namespace ca::profiles::issuance {

namespace {

pki::LintOptions Options(const Profile& profile, const pki::LeafExpectations& expect) {
  return {.staging = profile.environment == Environment::kStaging, .expect = &expect};
}

// The request's validity cannot be computed (a bad request): reported like the other rules.
void AddValidityError(const Profile& profile, const TbsRequest& request,
                      std::vector<LintFinding>& findings) {
  if (auto expected = ComputeValidity(profile, request); !expected) {
    findings.push_back({"validity", expected.error().message});
  }
}

}  // namespace

pki::LeafExpectations LeafExpectationsFor(const Profile& profile, const Issuer& issuer,
                                          const TbsRequest& request) {
  pki::LeafExpectations e;
  e.serial = request.serial;
  if (auto period = ComputeValidity(profile, request)) {
    e.not_before = period->not_before;
    e.not_after = period->not_after;
  }
  e.max_validity = profile.max_validity;
  e.subject = {{NID_countryName, request.organization.country},
               {NID_localityName, request.organization.locality},
               {NID_organizationName, request.organization.name}};
  if (auto cn = SubjectCommonName(profile, request.names))
    e.subject.emplace_back(NID_commonName, *cn);
  e.public_key = request.public_key;
  e.check_key = [&profile](const EVP_PKEY* key) { return CheckKeyParameters(key, profile); };
  e.check_names = [&profile](const std::vector<std::string>& names) {
    return ValidateNames(profile, names);
  };
  e.dns_names = request.names;
  if (issuer.certificate != nullptr) {
    e.signature_nid = SignatureNidFor(X509_get0_pubkey(issuer.certificate)).value_or(NID_undef);
  }
  // Empty: the profile has no OCSP / no CRL, and the certificate must not point to one.
  e.ocsp_url = profile.revocation.ocsp ? issuer.ocsp_url : std::string();
  e.ca_issuers_url = issuer.ca_issuers_url;
  e.crl_url = profile.revocation.crl ? CrlUrlOf(issuer, request) : std::string();
  e.policy_oids = profile.policy_oids;
  return e;
}

std::vector<LintFinding> LintTbsFindings(const X509* tbs, const Profile& profile,
                                         const Issuer& issuer, const TbsRequest& request) {
  pki::LeafExpectations expect = LeafExpectationsFor(profile, issuer, request);
  auto findings =
      pki::LintTbsFindings(tbs, issuer.certificate, pki::CertRole::kLeaf, Options(profile, expect));
  AddValidityError(profile, request, findings);
  return findings;
}

std::vector<LintFinding> LintCertificateFindings(std::span<const uint8_t> der,
                                                 const Profile& profile, const Issuer& issuer,
                                                 const TbsRequest& request) {
  pki::LeafExpectations expect = LeafExpectationsFor(profile, issuer, request);
  auto findings = pki::LintCertificateDer(der, issuer.certificate, pki::CertRole::kLeaf,
                                          Options(profile, expect));
  AddValidityError(profile, request, findings);
  return findings;
}

Result<LintedTbs> LintTbs(const X509* tbs, const Profile& profile, const Issuer& issuer,
                          const TbsRequest& request) {
  std::vector<LintFinding> bad_request;
  AddValidityError(profile, request, bad_request);
  CA_TRY_STATUS(pki::FindingsStatus(bad_request));
  pki::LeafExpectations expect = LeafExpectationsFor(profile, issuer, request);
  return pki::LintTbs(tbs, issuer.certificate, pki::CertRole::kLeaf, Options(profile, expect));
}

Status LintCertificate(const X509* certificate, const Profile& profile, const Issuer& issuer,
                       const TbsRequest& request) {
  auto der = CA_TRY(ossl::CertToDer(certificate));
  return pki::FindingsStatus(LintCertificateFindings(der, profile, issuer, request));
}

}  // namespace ca::profiles::issuance
