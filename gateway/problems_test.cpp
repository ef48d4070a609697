#include "gateway/problems.h"

#include <gtest/gtest.h>

#include "gateway/handler_context.h"

namespace ca::gateway {
namespace {

TEST(Problems, IdentifierCodesGiveRejectedIdentifierWithSubproblem) {
  Problem p = ProblemForResultCode("DOMAIN_NOT_FOUND", "foo.example.com", "");
  EXPECT_EQ(p.kind, ProblemKind::kRejectedIdentifier);
  EXPECT_EQ(p.detail, "DOMAIN_NOT_FOUND: foo.example.com");
  auto j = ProblemToJson(p);
  EXPECT_EQ(j["type"], "urn:ietf:params:acme:error:rejectedIdentifier");
  EXPECT_EQ(j["status"], 400);
  ASSERT_EQ(j["subproblems"].size(), 1u);
  EXPECT_EQ(j["subproblems"][0]["identifier"]["value"], "foo.example.com");
  EXPECT_EQ(ProblemForResultCode("INVALID_PROFILE_FOR_WILDCARD", "*.a.fr", "").kind, ProblemKind::kRejectedIdentifier);
}

TEST(Problems, OrderNotReadyCarriesTheOrdersOwnCodeOrOrderNotRead) {
  Problem pending = OrderNotReady("pending", nullptr);
  EXPECT_EQ(pending.kind, ProblemKind::kOrderNotReady);
  EXPECT_EQ(pending.detail, "ACME_ORDER_NOT_READ: order is pending, not ready");
  Problem deactivated = OrderNotReady(
      "invalid", ProblemToJson(MakeProblem(ProblemKind::kUnauthorized, "ACME_DEACTIVATED: gone")));
  EXPECT_EQ(deactivated.detail, "ACME_DEACTIVATED: order is invalid, not ready (ACME_DEACTIVATED: gone)");
  EXPECT_EQ(ProblemToJson(deactivated)["status"], 403);
}

TEST(Problems, InternalErrorsAreOtherErrorAndAFullStoreIsRetryable) {
  Problem internal = Internal(Error{ErrorCode::kCorrupt, "disk"}).error();
  EXPECT_EQ(ProblemType(internal.kind), "urn:ietf:params:acme:error:serverInternal");
  EXPECT_EQ(internal.detail, "ACME_OTHER_ERROR: internal error");  // never the internal message
  Problem full = Internal(Error{ErrorCode::kResourceExhausted, "MDB_MAP_FULL"}).error();
  EXPECT_EQ(ProblemHttpStatus(full.kind), 503);
  EXPECT_EQ(full.retry_after_seconds, 60);
  EXPECT_TRUE(full.detail.starts_with("ACME_OTHER_ERROR: ")) << full.detail;
  // A pair's store without a primary (failover): retryable, and the internal message stays inside.
  Problem down = Internal(Error{ErrorCode::kUnavailable, "PostgreSQL connection lost"}).error();
  EXPECT_EQ(ProblemType(down.kind), "urn:ietf:params:acme:error:serverInternal");
  EXPECT_EQ(ProblemHttpStatus(down.kind), 503);
  EXPECT_EQ(down.retry_after_seconds, 5);
  EXPECT_EQ(down.detail, "ACME_OTHER_ERROR: the CA's store is unavailable; retry later");
}

TEST(Problems, AccountCodesGiveUnauthorized) {
  for (auto code : {"SUSPENDED_ACCOUNT", "SUSPENDED_EXTERNAL_ACCOUNT", "EXPIRED_EXTERNAL_ACCOUNT",
                    "REVOKED_ACCOUNT", "ORGANIZATION_IS_NOT_VALID", "EXTERNAL_ACCOUNT_NOT_FOUND"}) {
    Problem p = ProblemForResultCode(code, "", "why");
    EXPECT_EQ(p.kind, ProblemKind::kUnauthorized) << code;
    EXPECT_EQ(p.detail, std::string(code) + ": why");
    EXPECT_EQ(ProblemHttpStatus(p.kind), 403);
  }
  EXPECT_EQ(ProblemForResultCode("ACCOUNT_NOT_FOUND", "", "").kind, ProblemKind::kAccountDoesNotExist);
  EXPECT_EQ(ProblemForResultCode("PROFILE_NOT_ALLOWED", "", "").kind, ProblemKind::kInvalidProfile);
  EXPECT_EQ(ProblemForResultCode("STAGING_NOT_ALLOWED", "", "").kind, ProblemKind::kUnauthorized);
}

// Every result code of the operator's technical document (CTD "Result code") that a policy refusal
// or the engine can carry, with the ACME problem type it becomes (docs/DEVIATIONS.md lists where
// each is emitted; the codes the gateway sets itself are tested where they arise).
TEST(Problems, EveryPolicyResultCodeHasItsProblemType) {
  const std::string urn = "urn:ietf:params:acme:error:";
  const std::vector<std::pair<std::string, std::string>> table = {
      {"DEACTIVATED_ACCOUNT", "unauthorized"},       {"DEACTIVATED_EXTERNAL_ACCOUNT", "unauthorized"},
      {"DOMAIN_NOT_ASSOCIATED", "rejectedIdentifier"}, {"DOMAIN_NOT_FOUND", "rejectedIdentifier"},
      {"EXPIRED_ACCOUNT", "unauthorized"},           {"EXPIRED_EXTERNAL_ACCOUNT", "unauthorized"},
      {"EXTERNAL_ACCOUNT_NOT_FOUND", "unauthorized"}, {"INVALID_DNSCAA", "caa"},
      {"INVALID_DOMAIN", "rejectedIdentifier"},
      {"INVALID_DOMAIN_FOR_WILDCARD_PROFILE", "rejectedIdentifier"},
      {"INVALID_PROFILE_FOR_WILDCARD", "rejectedIdentifier"},
      {"NOT_SAME_ORGANIZATION", "rejectedIdentifier"}, {"ORGANIZATION_IS_NOT_VALID", "unauthorized"},
      {"PENDING_EXTERNAL_ACCOUNT", "unauthorized"},   {"RATE_LIMITED", "rateLimited"},
      {"REVOKED_ACCOUNT", "unauthorized"},           {"REVOKED_EXTERNAL_ACCOUNT", "unauthorized"},
      {"SUSPENDED_ACCOUNT", "unauthorized"},         {"SUSPENDED_EXTERNAL_ACCOUNT", "unauthorized"},
      {"UNAUTHORIZED_DOMAIN", "rejectedIdentifier"}, {"ACME_ORDER_NOT_READ", "serverInternal"},
      {"ACME_REQUEST_NOT_FOUND", "serverInternal"},  {"ACME_ORDER_FINALIZE_ERROR", "serverInternal"},
      {"ACME_CA_ERROR", "serverInternal"},           {"ACME_OTHER_ERROR", "serverInternal"},
  };
  for (const auto& [code, type] : table) {
    Problem p = ProblemForResultCode(code, "a.example.com", "why");
    EXPECT_EQ(ProblemType(p.kind), urn + type) << code;
    EXPECT_EQ(ResultCodeOf(p.detail), code) << p.detail;
  }
}

TEST(Problems, CaaAndRateLimits) {
  Problem caa = ProblemForResultCode("INVALID_DNSCAA", "a.example", "");
  EXPECT_EQ(ProblemType(caa.kind), "urn:ietf:params:acme:error:caa");
  Problem rl = ProblemForResultCode("RATE_LIMITED", "a.example", "");
  EXPECT_EQ(ProblemHttpStatus(rl.kind), 429);
  EXPECT_TRUE(rl.retry_after_seconds.has_value());
}

TEST(Problems, EngineErrors) {
  using engine::api::EngineError;
  using K = engine::api::EngineErrorKind;
  EXPECT_EQ(ProblemForEngineError(EngineError{K::kPolicyDenied, "DOMAIN_NOT_FOUND", "x.fr", ""}).detail,
            "DOMAIN_NOT_FOUND: x.fr");
  EXPECT_EQ(ProblemForEngineError(EngineError{K::kBadCsr, "", "", "key reused"}).kind, ProblemKind::kBadCsr);
  EXPECT_EQ(ProblemForEngineError(EngineError{K::kAlreadyRevoked, "", "", ""}).kind, ProblemKind::kAlreadyRevoked);
  Problem down = ProblemForEngineError(EngineError{K::kUnavailable, "", "", "hsm"});
  EXPECT_EQ(ProblemHttpStatus(down.kind), 503);
  EXPECT_TRUE(down.retry_after_seconds.has_value());
  Problem internal = ProblemForEngineError(EngineError{K::kInternal, "", "", "bug"});
  EXPECT_EQ(ProblemType(internal.kind), "urn:ietf:params:acme:error:serverInternal");
  EXPECT_EQ(internal.detail, "ACME_CA_ERROR: bug");
}

}  // namespace
}  // namespace ca::gateway
