// Test-only: a GoogleTest suite fixture owning one pebble-challtestsrv for the suite, and helpers.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "gateway/validation/perspective.h"
#include "gateway/validation/testing/challtestsrv.h"
#include "gateway/validation/validator.h"

namespace ca::gateway::validation::testing {

inline constexpr char kCaaIdentity[] = "acme-ca.example";
inline constexpr char kAccountUri[] = "https://acme.test/acme/acct/42";

class ChallTestSrvSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = ChallTestSrv::Start();
    ASSERT_TRUE(started) << started.error().ToString();
    srv_ = std::move(*started);
  }
  static void TearDownTestSuite() { srv_.reset(); }

  // One vantage point on the challtestsrv DNS, responders on its ports, short timeouts.
  static ValidatorConfig Config() {
    ValidatorConfig c;
    c.resolver = srv_->dns_address();
    c.http01_port = srv_->http01_port;
    c.tlsalpn01_port = srv_->tlsalpn01_port;
    c.https_port = 443;
    c.dns_timeout = std::chrono::seconds(1);
    c.dns_attempts = 1;
    c.connect_timeout = std::chrono::milliseconds(2000);
    c.io_timeout = std::chrono::milliseconds(5000);
    c.caa_identities = {kCaaIdentity};
    c.allowed_networks = {IpNetwork::Parse("127.0.0.0/8").value()};  // the test responders
    return c;
  }

  static std::shared_ptr<const Validator> MakeValidator(ValidatorConfig c) {
    auto v = Validator::Create(std::move(c));
    if (!v) ADD_FAILURE() << v.error().ToString();
    return v ? *v : nullptr;
  }

  static Outcome Validate(const ValidatorConfig& c, ChallengeRequest request) {
    auto v = MakeValidator(c);
    if (!v) return Outcome::Invalid(ProblemType::kMalformed, "no validator");
    auto out = v->ValidateChallenge(request, Clock::now() + std::chrono::seconds(20));
    if (!out) {
      ADD_FAILURE() << out.error().ToString();
      return Outcome::Invalid(ProblemType::kMalformed, out.error().message);
    }
    return *out;
  }

  static void Post(const std::string& endpoint, const nlohmann::json& body) {
    auto s = srv_->Post(endpoint, body);
    ASSERT_TRUE(s) << s.error().ToString();
  }

  static inline std::unique_ptr<ChallTestSrv> srv_;
};

}  // namespace ca::gateway::validation::testing
