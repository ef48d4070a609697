#include "gateway/csr.h"

#include "profiles/issuance/weak_key.h"

namespace ca::gateway {

namespace {
std::unexpected<Problem> BadCsr(std::string detail) {
  return std::unexpected(MakeProblem(ProblemKind::kBadCsr, std::move(detail)));
}
}  // namespace

ProblemOr<pki::CsrFacts> CheckCsr(std::span<const uint8_t> der,
                                  const std::vector<std::string>& order_names,
                                  const profiles::issuance::Profile& profile,
                                  EVP_PKEY* account_key) {
  auto csr = pki::ReadCsr(der);
  if (!csr) return BadCsr(csr.error().message);
  if (account_key != nullptr && EVP_PKEY_eq(csr->public_key.get(), account_key) == 1)
    return BadCsr(
        "the CSR's public key is this ACME account's key: a certificate key must differ from "
        "the account key (RFC 8555 section 11.1)");
  if (auto names = pki::CheckCsrNames(*csr, order_names); !names) {
    return BadCsr(names.error().message);
  }
  if (auto key = profiles::issuance::CheckSubscriberKey(csr->public_key.get(), profile); !key) {
    if (key.error().code != ErrorCode::kInvalidArgument)
      return std::unexpected(MakeProblem(ProblemKind::kServerInternal, key.error().message));
    // The technical document has no code of its own for a key the profile does not take: the
    // certificate cannot be generated from this CSR (docs/DEVIATIONS.md).
    return BadCsr(std::string(kWrongKeyResultCode) + ": " + key.error().message);
  }
  return std::move(*csr);
}

}  // namespace ca::gateway
