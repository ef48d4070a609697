#include "gateway/acme_status.h"

#include <gtest/gtest.h>

#include "gateway/store.h"

namespace ca::gateway {
namespace {

TEST(AcmeStatus, NamesRoundTripAndUnknownIsRefused) {
  for (auto s : {OrderStatus::kPending, OrderStatus::kReady, OrderStatus::kProcessing,
                 OrderStatus::kValid, OrderStatus::kInvalid})
    EXPECT_EQ(ParseOrderStatus(StatusName(s)), s);
  EXPECT_EQ(StatusName(AuthzStatus::kExpired), "expired");
  EXPECT_EQ(ParseAccountStatus("deactivated"), AccountStatus::kDeactivated);
  EXPECT_EQ(ParseChallengeStatus("processing"), ChallengeStatus::kProcessing);
  EXPECT_FALSE(ParseChallengeStatus("ready"));
  EXPECT_THROW(nlohmann::json("bogus").get<AuthzStatus>(), nlohmann::json::exception);
}

// The stored JSON keeps the status strings it had when they were std::string fields.
TEST(AcmeStatus, StoredJsonKeepsTheStrings) {
  AccountRecord a;
  a.status = AccountStatus::kRevoked;
  EXPECT_EQ(ToJson(a)["status"], "revoked");
  OrderRecord o;
  o.status = OrderStatus::kProcessing;
  EXPECT_EQ(ToJson(o)["status"], "processing");
  EXPECT_NE(ToJson(o).dump().find(R"("status":"processing")"), std::string::npos);
  ChallengeRecord c;
  EXPECT_EQ(ToJson(c)["status"], "pending");
  CertRecord cert;
  EXPECT_FALSE(ToJson(cert).contains("revoked"));  // the engine's CA store holds revocation state
}

}  // namespace
}  // namespace ca::gateway
