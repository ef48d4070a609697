#include "engine/api/contract.h"

#include <gtest/gtest.h>

namespace ca::engine::api {
namespace {

using nlohmann::json;

IssueRequest SampleIssue() {
  IssueRequest r;
  r.request_id = "req-1";
  r.order_id = "order-1";
  r.acme_account_id = "acct-1";
  r.external_account_kid = "6136f1b5-39c8-4417-b8a7-c4114b092be6";
  r.profile = "SSL";
  r.names = {"www.example.fr", "example.fr"};
  r.csr_der = {0x30, 0x82, 0x01, 0x02, 0xff};
  r.policy_version = 42;
  r.environment = CaEnvironment::kStaging;
  return r;
}

TEST(Contract, IssueRequestRoundTrips) {
  json wire = RequestToJson(SampleIssue());
  EXPECT_EQ(wire["v"], 1);
  EXPECT_EQ(wire["type"], "issue");
  EXPECT_EQ(wire["body"]["environment"], "staging");
  auto parsed = RequestFromJson(json::parse(wire.dump()));
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  const auto& r = std::get<IssueRequest>(*parsed);
  EXPECT_EQ(r.request_id, "req-1");
  EXPECT_EQ(r.order_id, "order-1");
  EXPECT_EQ(r.acme_account_id, "acct-1");
  EXPECT_EQ(r.external_account_kid, "6136f1b5-39c8-4417-b8a7-c4114b092be6");
  EXPECT_EQ(r.profile, "SSL");
  EXPECT_EQ(r.names, (std::vector<std::string>{"www.example.fr", "example.fr"}));
  EXPECT_EQ(r.csr_der, SampleIssue().csr_der);
  EXPECT_EQ(r.policy_version, 42u);
  EXPECT_EQ(r.environment, CaEnvironment::kStaging);
}

TEST(Contract, OtherRequestsRoundTrip) {
  RevokeRequest revoke{"0a1b", pki::RevocationReason::kKeyCompromise, "ra:alice", true, CaEnvironment::kProduction};
  auto r1 = RequestFromJson(RequestToJson(revoke));
  ASSERT_TRUE(r1);
  const auto& rv = std::get<RevokeRequest>(*r1);
  EXPECT_EQ(rv.serial_hex, "0a1b");
  EXPECT_EQ(rv.reason, pki::RevocationReason::kKeyCompromise);
  EXPECT_EQ(rv.actor, "ra:alice");
  EXPECT_TRUE(rv.allow_key_compromise_upgrade);

  RevokeAllForAccountRequest all{"", "kid-9", pki::RevocationReason::kPrivilegeWithdrawn, "ra:bob",
                                 CaEnvironment::kStaging};
  auto r2 = RequestFromJson(RequestToJson(all));
  ASSERT_TRUE(r2);
  EXPECT_EQ(std::get<RevokeAllForAccountRequest>(*r2).external_account_kid, "kid-9");
  EXPECT_EQ(std::get<RevokeAllForAccountRequest>(*r2).environment, CaEnvironment::kStaging);

  auto r3 = RequestFromJson(RequestToJson(GetCertificateRequest{"ff00", CaEnvironment::kProduction}));
  ASSERT_TRUE(r3);
  EXPECT_EQ(std::get<GetCertificateRequest>(*r3).serial_hex, "ff00");
}

TEST(Contract, ResponsesRoundTrip) {
  IssueResponse issued{"0badc0de", "-----BEGIN CERTIFICATE-----\n", "chain", 100, 200};
  auto a = ResponseFromJson(ResponseToJson(issued));
  ASSERT_TRUE(a);
  EXPECT_EQ(std::get<IssueResponse>(*a).serial_hex, "0badc0de");
  EXPECT_EQ(std::get<IssueResponse>(*a).not_after, 200);

  CertificateRecord rec;
  rec.serial_hex = "01";
  rec.revoked = true;
  rec.revoked_at = 77;
  rec.reason = pki::RevocationReason::kSuperseded;
  rec.profile = "WILD";
  auto b = ResponseFromJson(ResponseToJson(rec));
  ASSERT_TRUE(b);
  EXPECT_TRUE(std::get<CertificateRecord>(*b).revoked);
  EXPECT_EQ(std::get<CertificateRecord>(*b).reason, pki::RevocationReason::kSuperseded);
  EXPECT_EQ(std::get<CertificateRecord>(*b).profile, "WILD");

  EngineError err{EngineErrorKind::kPolicyDenied, "DOMAIN_NOT_FOUND", "a.example.fr", "not listed"};
  json wire = ResponseToJson(err);
  EXPECT_EQ(wire["type"], "error");
  EXPECT_EQ(wire["body"]["kind"], "policy_denied");
  auto c = ResponseFromJson(wire);
  ASSERT_TRUE(c);
  EXPECT_EQ(std::get<EngineError>(*c).kind, EngineErrorKind::kPolicyDenied);
  EXPECT_EQ(std::get<EngineError>(*c).result_code, "DOMAIN_NOT_FOUND");
  EXPECT_EQ(std::get<EngineError>(*c).name, "a.example.fr");

  auto d = ResponseFromJson(ResponseToJson(RevokeResponse{true, 5}));
  ASSERT_TRUE(d);
  EXPECT_TRUE(std::get<RevokeResponse>(*d).newly_revoked);
  auto e = ResponseFromJson(ResponseToJson(RevokeAllForAccountResponse{3}));
  ASSERT_TRUE(e);
  EXPECT_EQ(std::get<RevokeAllForAccountResponse>(*e).revoked_count, 3u);
}

void ExpectRejected(const json& message, std::string_view fragment) {
  auto parsed = RequestFromJson(message);
  ASSERT_FALSE(parsed) << message.dump();
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(parsed.error().message.find(fragment), std::string::npos) << parsed.error().message;
}

TEST(Contract, RejectsMalformedRequests) {
  json good = RequestToJson(SampleIssue());
  ExpectRejected(json::array(), "expected a JSON object");
  {
    json m = good;
    m["v"] = 2;
    ExpectRejected(m, "unsupported contract version 2");
  }
  {
    json m = good;
    m["type"] = "sign_anything";
    ExpectRejected(m, "unknown request type 'sign_anything'");
  }
  {
    json m = good;
    m.erase("body");
    ExpectRejected(m, "message.body");
  }
  {
    json m = good;
    m["extra"] = 1;
    ExpectRejected(m, "unknown field 'extra'");
  }
  {
    json m = good;
    m["body"]["names"] = "www.example.fr";
    ExpectRejected(m, "issue.names: expected an array of strings");
  }
  {
    json m = good;
    m["body"]["names"] = json::array();
    ExpectRejected(m, "issue.names: empty");
  }
  {
    json m = good;
    m["body"].erase("request_id");
    ExpectRejected(m, "issue.request_id: missing");
  }
  {
    json m = good;
    m["body"]["csr"] = "not base64url!";
    ExpectRejected(m, "issue.csr");
  }
  {
    json m = good;
    m["body"]["policy_version"] = -1;
    ExpectRejected(m, "issue.policy_version");
  }
  {
    json m = good;
    m["body"]["environment"] = "test";
    ExpectRejected(m, "environment");
  }
  {
    json m = good;
    m["body"]["backdoor"] = true;
    ExpectRejected(m, "issue: unknown field 'backdoor'");
  }
  {
    json m = RequestToJson(RevokeRequest{"0a", pki::RevocationReason::kUnspecified, "ra:x", false, {}});
    m["body"]["reason"] = 6;  // certificateHold is never accepted
    ExpectRejected(m, "reason: unknown or refused CRLReason code 6");
    m["body"]["reason"] = 1;
    // Only the canonical serial form (lower-case, even length, minimal octets) travels.
    for (const char* other : {"0A", "a", "000a", "0a:0b", ""}) {
      m["body"]["serial_hex"] = other;
      ExpectRejected(m, "revoke.serial_hex: serial: '" + std::string(other) + "' is not canonical");
    }
    m["body"]["reason"] = 10;  // aACompromise travels like the others
    m["body"]["serial_hex"] = "0a";
    auto parsed = RequestFromJson(m);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(std::get<RevokeRequest>(*parsed).reason, pki::RevocationReason::kAaCompromise);
  }
  {
    json m = RequestToJson(RevokeAllForAccountRequest{"", "", pki::RevocationReason::kUnspecified, "ra:x", {}});
    ExpectRejected(m, "acme_account_id or external_account_kid is required");
  }
}

TEST(Contract, RejectsMalformedResponses) {
  json m = ResponseToJson(EngineError{EngineErrorKind::kInternal, "", "", "x"});
  m["body"]["kind"] = "mystery";
  auto parsed = ResponseFromJson(m);
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("unknown 'mystery'"), std::string::npos);
}

TEST(Contract, Names) {
  EXPECT_EQ(EngineErrorKindName(EngineErrorKind::kUnavailable), "unavailable");
  EXPECT_EQ(CaEnvironmentName(CaEnvironment::kProduction), "production");
  EXPECT_EQ(CaEnvironmentName(CaEnvironment::kStaging), "staging");
}

}  // namespace
}  // namespace ca::engine::api

namespace ca::engine::api {
namespace {

TEST(Contract, VerifyEabRoundTripsAndRefusesDefects) {
  VerifyExternalAccountBindingRequest req{"kid-1", "eyJhbGciOiJIUzI1NiJ9.e30", {1, 2, 3, 250},
                                          CaEnvironment::kProduction};
  auto back = RequestFromJson(RequestToJson(req));
  ASSERT_TRUE(back) << back.error().ToString();
  const auto& got = std::get<VerifyExternalAccountBindingRequest>(*back);
  EXPECT_EQ(got.kid, "kid-1");
  EXPECT_EQ(got.signing_input, req.signing_input);
  EXPECT_EQ(got.mac, req.mac);
  EXPECT_EQ(RequestToJson(req)["type"], "verify_eab");

  auto bad_mac = RequestToJson(req);
  bad_mac["body"]["mac"] = "not base64url!";
  EXPECT_FALSE(RequestFromJson(bad_mac));
  auto no_kid = RequestToJson(req);
  no_kid["body"]["kid"] = "";
  EXPECT_FALSE(RequestFromJson(no_kid));
  auto extra = RequestToJson(req);
  extra["body"]["mac_key"] = "x";
  EXPECT_FALSE(RequestFromJson(extra));

  for (bool verified : {true, false}) {
    auto verdict = ResponseFromJson(ResponseToJson(ExternalAccountBindingVerdict{verified}));
    ASSERT_TRUE(verdict) << verdict.error().ToString();
    EXPECT_EQ(std::get<ExternalAccountBindingVerdict>(*verdict).verified, verified);
  }
  EXPECT_EQ(ResponseToJson(ExternalAccountBindingVerdict{true})["type"], "eab_verdict");
  EXPECT_EQ(ResponseToJson(EngineError{})["type"], "error");
}

}  // namespace
}  // namespace ca::engine::api
