#include "engine/eab_verifier.h"

#include <openssl/crypto.h>

#include "common/encoding.h"
#include "common/log.h"
#include "profiles/policy/mac_key.h"

namespace ca::engine {

namespace policy = profiles::policy;

Result<std::unique_ptr<EabVerifier>> EabVerifier::Open(std::shared_ptr<hsm::Token> token,
                                                       std::string label) {
  auto key = token->FindKey(label);
  if (!key)
    return Fail(key.error().code, "MAC wrapping key '" + label + "': " + key.error().message);
  std::string decoy = CA_TRY(
      policy::WrapMacKeyForHsm(RandomUuidV4(), policy::GenerateMacKey(), (*key)->public_key()));
  return std::unique_ptr<EabVerifier>(
      new EabVerifier(std::move(token), std::move(label), std::move(decoy)));
}

Result<bool> EabVerifier::Verify(const policy::PolicySnapshot& snapshot,
                                 const engine::api::VerifyExternalAccountBindingRequest& request) {
  auto account = snapshot.FindExternalAccount(request.kid);
  const std::string& stored = account ? account->mac_wrapped : decoy_;
  auto parsed = policy::ParseHsmWrappedMac(stored);
  bool usable = account.has_value() && parsed.has_value();
  if (account && !parsed)
    log::Error("eab_record_unusable",
               {{"external_account", request.kid}, {"error", parsed.error().message}});
  if (!parsed) parsed = policy::ParseHsmWrappedMac(decoy_);
  std::string binding = policy::MacBindingInput(request.kid);
  auto span_of = [](const std::string& s) {
    return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  auto macs = token_->HmacSha256WithWrappedKey(label_, parsed->wrapped,
                                               {span_of(request.signing_input), span_of(binding)});
  if (!macs) {
    if (macs.error().code != ErrorCode::kCrypto) return std::unexpected(macs.error());
    log::Error("eab_record_does_not_unwrap", {{"external_account", request.kid}});
    return false;
  }
  const auto& mac = (*macs)[0];
  const auto& kid_binding = (*macs)[1];
  bool binding_ok =
      kid_binding.size() == parsed->kid_binding.size() &&
      CRYPTO_memcmp(kid_binding.data(), parsed->kid_binding.data(), kid_binding.size()) == 0;
  bool mac_ok = request.mac.size() == mac.size() &&
                CRYPTO_memcmp(request.mac.data(), mac.data(), mac.size()) == 0;
  if (usable && !binding_ok)
    log::Error("eab_record_bound_to_another_kid", {{"external_account", request.kid}});
  return usable && binding_ok && mac_ok;
}

}  // namespace ca::engine
