#include "gateway/validation/agent_protocol.h"

#include "pki/json_fields.h"

namespace ca::gateway::validation {

namespace {

using pki::JsonFields;

std::string_view KindName(OutcomeKind kind) {
  switch (kind) {
    case OutcomeKind::kValid:
      return "valid";
    case OutcomeKind::kInvalid:
      return "invalid";
    case OutcomeKind::kUnavailable:
      return "unavailable";
  }
  return "invalid";
}

Result<nlohmann::json> ParseBoundedObject(std::string_view body, size_t max,
                                          std::string_view what) {
  if (body.size() > max) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(what) + " larger than " + std::to_string(max) + " bytes");
  }
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Fail(ErrorCode::kInvalidArgument, std::string(what) + " is not a JSON object");
  }
  return parsed;
}

Result<uint16_t> Port(JsonFields& f, std::string_view field) {
  return static_cast<uint16_t>(CA_TRY(f.IntIn(field, 1, 65535)));
}

}  // namespace

std::string EncodeAgentRequest(const AgentRequest& r) {
  nlohmann::json j = {{"identifier", r.challenge.identifier},
                      {"account_uri", r.challenge.account_uri},
                      {"timeout_ms", r.timeout_ms}};
  if (r.check == AgentRequest::Check::kCaa) {
    j["check"] = "caa";
    if (r.caa_method) j["method"] = ChallengeTypeName(*r.caa_method);
  } else {
    j["check"] = "challenge";
    j["type"] = ChallengeTypeName(r.challenge.type);
    j["token"] = r.challenge.token;
    j["key_authorization"] = r.challenge.key_authorization;
    j["check_caa"] = r.challenge.check_caa;
    j["http01_port"] = r.http01_port;
    j["https_port"] = r.https_port;
    j["tlsalpn01_port"] = r.tlsalpn01_port;
  }
  return j.dump();
}

Result<AgentRequest> ParseAgentRequest(std::string_view body) {
  const auto j = CA_TRY(ParseBoundedObject(body, kMaxAgentRequestBytes, "request"));
  auto f = CA_TRY(JsonFields::Of(j, "request"));
  AgentRequest r;
  const std::string check = CA_TRY(f.String("check"));
  r.challenge.identifier = CA_TRY(f.NonEmptyString("identifier"));
  r.challenge.account_uri = CA_TRY(f.String("account_uri"));
  r.timeout_ms = CA_TRY(f.IntIn("timeout_ms", 100, 300000));
  if (check == "caa") {
    r.check = AgentRequest::Check::kCaa;
    if (auto method = CA_TRY(f.OptionalString("method")))
      r.caa_method = CA_TRY(ParseChallengeType(*method));
  } else if (check == "challenge") {
    const std::string type = CA_TRY(f.String("type"));
    r.challenge.type = CA_TRY(ParseChallengeType(type));
    r.challenge.token = CA_TRY(f.NonEmptyString("token"));
    r.challenge.key_authorization = CA_TRY(f.NonEmptyString("key_authorization"));
    r.challenge.check_caa = CA_TRY(f.Bool("check_caa"));
    r.http01_port = CA_TRY(Port(f, "http01_port"));
    r.https_port = CA_TRY(Port(f, "https_port"));
    r.tlsalpn01_port = CA_TRY(Port(f, "tlsalpn01_port"));
  } else {
    return f.Bad("check", "expected \"challenge\" or \"caa\"");
  }
  CA_TRY_STATUS(f.RefuseUnknown());
  return r;
}

std::string EncodeAgentAnswer(const AgentAnswer& a) {
  nlohmann::json j = {{"outcome", KindName(a.outcome.kind)},
                      {"detail", a.outcome.detail},
                      {"addresses", a.addresses}};
  if (a.outcome.kind != OutcomeKind::kValid) j["problem"] = ProblemTypeUrn(a.outcome.problem);
  return j.dump();
}

Result<AgentAnswer> ParseAgentAnswer(std::string_view body) {
  const auto j = CA_TRY(ParseBoundedObject(body, kMaxAgentAnswerBytes, "agent answer"));
  auto f = CA_TRY(JsonFields::Of(j, "answer"));
  AgentAnswer a;
  const std::string kind = CA_TRY(f.String("outcome"));
  a.outcome.detail = CA_TRY(f.String("detail"));
  a.addresses = CA_TRY(f.StringList("addresses"));
  if (kind == "valid") {
    a.outcome.kind = OutcomeKind::kValid;
  } else if (kind == "invalid" || kind == "unavailable") {
    a.outcome.kind = kind == "invalid" ? OutcomeKind::kInvalid : OutcomeKind::kUnavailable;
    const std::string problem = CA_TRY(f.String("problem"));
    a.outcome.problem = CA_TRY(ParseProblemTypeUrn(problem));
  } else {
    return f.Bad("outcome", "expected valid, invalid or unavailable");
  }
  CA_TRY_STATUS(f.RefuseUnknown());
  return a;
}

nlohmann::json PerspectiveReportsToJson(const std::vector<PerspectiveReport>& reports) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : reports) {
    nlohmann::json item = {{"name", r.name},
                           {"remote", r.remote},
                           {"outcome", KindName(r.kind)},
                           {"detail", r.detail},
                           {"addresses", r.addresses}};
    if (r.kind != OutcomeKind::kValid) item["problem"] = ProblemTypeUrn(r.problem);
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace ca::gateway::validation
