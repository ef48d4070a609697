#include "gateway/csr.h"

namespace ca::gateway {

namespace {
std::unexpected<Problem> BadCsr(std::string detail) {
  return std::unexpected(MakeProblem(ProblemKind::kBadCsr, std::move(detail)));
}
}  // namespace

ProblemOr<pki::CsrFacts> CheckCsr(std::span<const uint8_t> der,
                                  const std::vector<std::string>& order_names) {
  auto csr = pki::ReadCsr(der);
  if (!csr) return BadCsr(csr.error().message);
  if (csr->key.type != "RSA" || csr->key.bits != 3072) {
    return BadCsr("the certificate key must be RSA 3072, got " + csr->key.type + " " +
                  std::to_string(csr->key.bits));
  }
  if (auto names = pki::CheckCsrNames(*csr, order_names); !names) {
    return BadCsr(names.error().message);
  }
  return std::move(*csr);
}

}  // namespace ca::gateway
