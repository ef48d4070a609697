#include "gateway/problems.h"

#include <gtest/gtest.h>

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
