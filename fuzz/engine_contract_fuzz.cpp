// Engine channel messages (engine/api/contract.h): a frame's JSON payload decoded as the engine
// decodes requests (engine/channel_server.cpp) and as clients decode responses. Property: whatever
// decodes re-encodes to JSON that decodes again to the same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/api/contract.h"
#include "fuzz/seeds.h"

namespace ca::fuzz {
namespace {

namespace api = engine::api;

// One message of each request and response type, in their wire form.
void WriteSeeds(const SeedWriter& out) {
  api::IssueRequest issue{"req-1", "order-1", "acct-1", "kid-1", "SSL", {"www.example.org", "example.org"},
                          {0x30, 0x03, 0x02, 0x01, 0x00}, 42, api::CaEnvironment::kProduction};
  api::RevokeRequest revoke{"0a1b2c", pki::RevocationReason::kKeyCompromise, "acme-account:1", true,
                            api::CaEnvironment::kStaging};
  api::RevokeAllForAccountRequest revoke_all;
  revoke_all.acme_account_id = "acct-1";
  revoke_all.external_account_kid = "kid-1";
  revoke_all.actor = "ra:alice";
  api::GetCertificateRequest get{"0a1b2c", api::CaEnvironment::kProduction};
  int n = 0;
  for (const api::Request& r : std::vector<api::Request>{issue, revoke, revoke_all, get}) {
    out.Add("request_" + std::to_string(n++), api::RequestToJson(r).dump());
  }
  api::IssueResponse issued{"0a1b2c", "-----BEGIN CERTIFICATE-----\n", "chain", 1700000000, 1707776000};
  api::RevokeResponse revoked{true, 1700000100};
  api::RevokeAllForAccountResponse revoked_all;
  revoked_all.revoked_count = 3;
  api::EngineError error{api::EngineErrorKind::kPolicyDenied, "DOMAIN_NOT_FOUND", "x.example", "no such domain"};
  n = 0;
  for (const api::Response& r :
       std::vector<api::Response>{issued, revoked, revoked_all, api::CertificateRecord{}, error}) {
    out.Add("response_" + std::to_string(n++), api::ResponseToJson(r).dump());
  }
}

}  // namespace
}  // namespace ca::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ca::fuzz::MaybeWriteSeeds(ca::fuzz::WriteSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace api = ca::engine::api;
  std::string_view frame(reinterpret_cast<const char*>(data), size);
  nlohmann::json json = nlohmann::json::parse(frame, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return 0;
  if (auto request = api::RequestFromJson(json)) {
    nlohmann::json encoded = api::RequestToJson(*request);
    auto again = api::RequestFromJson(encoded);
    if (!again || api::RequestToJson(*again) != encoded) std::abort();
  }
  if (auto response = api::ResponseFromJson(json)) {
    nlohmann::json encoded = api::ResponseToJson(*response);
    auto again = api::ResponseFromJson(encoded);
    if (!again || api::ResponseToJson(*again) != encoded) std::abort();
  }
  return 0;
}
