// Test driver for agents_e2e.sh: builds the gateway's Validator from a "validation" JSON object
// (remote agents asked with the gateway's own client, AskAgent), validates one challenge and
// prints the outcome with every perspective's answer, as the gateway's audit records them.
// usage: validate_driver CONFIG.json TYPE NAME TOKEN KEY_AUTHORIZATION
#include <cstdio>
#include <fstream>

#include "gateway/validation/remote_client.h"

using namespace ca::gateway::validation;

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: validate_driver CONFIG.json TYPE NAME TOKEN KEY_AUTHORIZATION\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  auto json = nlohmann::json::parse(in, nullptr, false);
  auto config = ValidatorConfig::FromJson(json);
  if (!config) {
    std::fprintf(stderr, "validate_driver: %s\n", config.error().ToString().c_str());
    return 2;
  }
  auto validator = Validator::Create(*config, &AskAgent);
  auto type = ParseChallengeType(argv[2]);
  if (!validator || !type) {
    std::fprintf(stderr, "validate_driver: bad configuration or challenge type\n");
    return 2;
  }
  ChallengeRequest request{*type, argv[3], argv[4], argv[5], "https://acme.test/acct/1", false};
  auto outcome = (*validator)->ValidateChallenge(request, Clock::now() + std::chrono::seconds(20));
  if (!outcome) {
    std::fprintf(stderr, "validate_driver: %s\n", outcome.error().ToString().c_str());
    return 2;
  }
  nlohmann::json out = {{"kind", outcome->valid()                         ? "valid"
                                 : outcome->kind == OutcomeKind::kInvalid ? "invalid"
                                                                          : "unavailable"},
                        {"detail", outcome->detail},
                        {"perspectives", PerspectiveReportsToJson(outcome->perspectives)}};
  if (!outcome->valid()) out["problem"] = ProblemTypeUrn(outcome->problem);
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
