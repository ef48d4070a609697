#include "engine/api/contract.h"

#include <string>

#include "common/encoding.h"
#include "pki/json_fields.h"
#include "pki/serial.h"

namespace ca::engine::api {
namespace {

using nlohmann::json;

Result<CaEnvironment> ParseEnvironment(std::string_view text) {
  if (text == "production") return CaEnvironment::kProduction;
  if (text == "staging") return CaEnvironment::kStaging;
  return Fail(ErrorCode::kInvalidArgument, "environment: expected \"production\" or \"staging\"");
}

Result<CaEnvironment> ReadEnvironment(pki::JsonFields& r) {
  std::string text = CA_TRY(r.String("environment"));
  return ParseEnvironment(text);
}

Result<pki::RevocationReason> ReadReason(pki::JsonFields& r) {
  int64_t code = CA_TRY(r.Int("reason"));
  auto reason = pki::ReasonFromCode(code);
  if (!reason) return Fail(ErrorCode::kInvalidArgument, "reason: " + reason.error().message);
  return reason;
}

constexpr EngineErrorKind kAllErrorKinds[] = {
    EngineErrorKind::kPolicyDenied, EngineErrorKind::kBadCsr,         EngineErrorKind::kBadRequest,
    EngineErrorKind::kNotFound,     EngineErrorKind::kAlreadyRevoked, EngineErrorKind::kUnauthorized,
    EngineErrorKind::kUnavailable,  EngineErrorKind::kInternal,
};

Result<EngineErrorKind> ParseErrorKind(std::string_view text) {
  for (EngineErrorKind kind : kAllErrorKinds) {
    if (EngineErrorKindName(kind) == text) return kind;
  }
  return Fail(ErrorCode::kInvalidArgument, "error.kind: unknown '" + std::string(text) + "'");
}

// Serial numbers travel in their one canonical form (pki::Serial::Hex(): lower-case, even length,
// minimal octets); any other spelling is a defect the engine should never have to interpret.
Status CheckSerialHex(std::string_view what, const std::string& serial) {
  if (auto parsed = pki::Serial::FromHex(serial); !parsed) {
    return Fail(ErrorCode::kInvalidArgument, std::string(what) + ".serial_hex: " + parsed.error().message);
  }
  return Ok();
}

json ReasonJson(pki::RevocationReason reason) { return pki::ReasonCode(reason); }

Result<Request> IssueFromJson(const json& body) {
  auto r = CA_TRY(pki::JsonFields::Of(body, "issue"));
  IssueRequest req;
  req.request_id = CA_TRY(r.String("request_id"));
  req.order_id = CA_TRY(r.String("order_id"));
  req.acme_account_id = CA_TRY(r.String("acme_account_id"));
  req.external_account_kid = CA_TRY(r.String("external_account_kid"));
  req.profile = CA_TRY(r.String("profile"));
  req.names = CA_TRY(r.StringList("names"));
  std::string csr = CA_TRY(r.String("csr"));
  req.policy_version = CA_TRY(r.Uint("policy_version"));
  req.environment = CA_TRY(ReadEnvironment(r));
  CA_TRY_STATUS(r.RefuseUnknown());
  if (req.request_id.empty() || req.request_id.size() > 128) {
    return Fail(ErrorCode::kInvalidArgument, "issue.request_id: expected 1 to 128 characters");
  }
  if (req.names.empty()) return Fail(ErrorCode::kInvalidArgument, "issue.names: empty");
  auto der = Base64UrlDecode(csr);
  if (!der || der->empty()) {
    return Fail(ErrorCode::kInvalidArgument, "issue.csr: expected base64url DER");
  }
  req.csr_der = std::move(*der);
  return Request(std::move(req));
}

Result<Request> RevokeFromJson(const json& body) {
  auto r = CA_TRY(pki::JsonFields::Of(body, "revoke"));
  RevokeRequest req;
  req.serial_hex = CA_TRY(r.String("serial_hex"));
  req.reason = CA_TRY(ReadReason(r));
  req.actor = CA_TRY(r.String("actor"));
  req.allow_key_compromise_upgrade = CA_TRY(r.OptionalBool("allow_key_compromise_upgrade")).value_or(false);
  req.environment = CA_TRY(ReadEnvironment(r));
  CA_TRY_STATUS(r.RefuseUnknown());
  CA_TRY_STATUS(CheckSerialHex("revoke", req.serial_hex));
  if (req.actor.empty()) return Fail(ErrorCode::kInvalidArgument, "revoke.actor: empty");
  return Request(std::move(req));
}

Result<Request> RevokeAllFromJson(const json& body) {
  auto r = CA_TRY(pki::JsonFields::Of(body, "revoke_all"));
  RevokeAllForAccountRequest req;
  req.acme_account_id = CA_TRY(r.OptionalString("acme_account_id")).value_or("");
  req.external_account_kid = CA_TRY(r.OptionalString("external_account_kid")).value_or("");
  req.reason = CA_TRY(ReadReason(r));
  req.actor = CA_TRY(r.String("actor"));
  req.environment = CA_TRY(ReadEnvironment(r));
  CA_TRY_STATUS(r.RefuseUnknown());
  if (req.acme_account_id.empty() && req.external_account_kid.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "revoke_all: acme_account_id or external_account_kid is required");
  }
  if (req.actor.empty()) return Fail(ErrorCode::kInvalidArgument, "revoke_all.actor: empty");
  return Request(std::move(req));
}

Result<Request> GetCertificateFromJson(const json& body) {
  auto r = CA_TRY(pki::JsonFields::Of(body, "get_certificate"));
  GetCertificateRequest req;
  req.serial_hex = CA_TRY(r.String("serial_hex"));
  req.environment = CA_TRY(ReadEnvironment(r));
  CA_TRY_STATUS(r.RefuseUnknown());
  CA_TRY_STATUS(CheckSerialHex("get_certificate", req.serial_hex));
  return Request(std::move(req));
}

Result<Request> VerifyEabFromJson(const json& body) {
  auto r = CA_TRY(pki::JsonFields::Of(body, "verify_eab"));
  VerifyExternalAccountBindingRequest req;
  req.kid = CA_TRY(r.String("kid"));
  req.signing_input = CA_TRY(r.String("signing_input"));
  std::string mac = CA_TRY(r.String("mac"));
  req.environment = CA_TRY(ReadEnvironment(r));
  CA_TRY_STATUS(r.RefuseUnknown());
  auto decoded = Base64UrlDecode(mac);
  if (!decoded) return Fail(ErrorCode::kInvalidArgument, "verify_eab.mac: not base64url");
  req.mac = std::move(*decoded);
  if (req.kid.empty()) return Fail(ErrorCode::kInvalidArgument, "verify_eab.kid: empty");
  return Request(std::move(req));
}

struct RequestBodyVisitor {
  json operator()(const IssueRequest& r) const {
    return {{"request_id", r.request_id},
            {"order_id", r.order_id},
            {"acme_account_id", r.acme_account_id},
            {"external_account_kid", r.external_account_kid},
            {"profile", r.profile},
            {"names", r.names},
            {"csr", Base64UrlEncode(r.csr_der)},
            {"policy_version", r.policy_version},
            {"environment", CaEnvironmentName(r.environment)}};
  }
  json operator()(const RevokeRequest& r) const {
    return {{"serial_hex", r.serial_hex},
            {"reason", ReasonJson(r.reason)},
            {"actor", r.actor},
            {"allow_key_compromise_upgrade", r.allow_key_compromise_upgrade},
            {"environment", CaEnvironmentName(r.environment)}};
  }
  json operator()(const RevokeAllForAccountRequest& r) const {
    return {{"acme_account_id", r.acme_account_id},
            {"external_account_kid", r.external_account_kid},
            {"reason", ReasonJson(r.reason)},
            {"actor", r.actor},
            {"environment", CaEnvironmentName(r.environment)}};
  }
  json operator()(const GetCertificateRequest& r) const {
    return {{"serial_hex", r.serial_hex}, {"environment", CaEnvironmentName(r.environment)}};
  }
  json operator()(const VerifyExternalAccountBindingRequest& r) const {
    return {{"kid", r.kid},
            {"signing_input", r.signing_input},
            {"mac", Base64UrlEncode(r.mac)},
            {"environment", CaEnvironmentName(r.environment)}};
  }
};

struct ResponseBodyVisitor {
  json operator()(const IssueResponse& r) const {
    return {{"serial_hex", r.serial_hex},
            {"certificate_pem", r.certificate_pem},
            {"chain_pem", r.chain_pem},
            {"not_before", r.not_before},
            {"not_after", r.not_after}};
  }
  json operator()(const RevokeResponse& r) const {
    return {{"newly_revoked", r.newly_revoked}, {"revoked_at", r.revoked_at}};
  }
  json operator()(const RevokeAllForAccountResponse& r) const {
    return {{"revoked_count", r.revoked_count}};
  }
  json operator()(const CertificateRecord& r) const {
    return {{"serial_hex", r.serial_hex},
            {"certificate_pem", r.certificate_pem},
            {"chain_pem", r.chain_pem},
            {"acme_account_id", r.acme_account_id},
            {"external_account_kid", r.external_account_kid},
            {"profile", r.profile},
            {"not_before", r.not_before},
            {"not_after", r.not_after},
            {"revoked", r.revoked},
            {"revoked_at", r.revoked_at},
            {"reason", ReasonJson(r.reason)}};
  }
  json operator()(const EngineError& r) const {
    return {{"kind", EngineErrorKindName(r.kind)},
            {"result_code", r.result_code},
            {"name", r.name},
            {"detail", r.detail}};
  }
  json operator()(const ExternalAccountBindingVerdict& r) const { return {{"verified", r.verified}}; }
};

constexpr std::string_view RequestTypeName(const Request& r) {
  switch (r.index()) {
    case 0: return "issue";
    case 1: return "revoke";
    case 2: return "revoke_all";
    case 4: return "verify_eab";
    default: return "get_certificate";
  }
}

constexpr std::string_view ResponseTypeName(const Response& r) {
  switch (r.index()) {
    case 0: return "issued";
    case 1: return "revoked";
    case 2: return "revoked_all";
    case 3: return "certificate";
    case 5: return "eab_verdict";
    default: return "error";
  }
}

Result<Response> IssuedFromJson(const json& body) {
  auto r = CA_TRY(pki::JsonFields::Of(body, "issued"));
  IssueResponse out;
  out.serial_hex = CA_TRY(r.String("serial_hex"));
  out.certificate_pem = CA_TRY(r.String("certificate_pem"));
  out.chain_pem = CA_TRY(r.String("chain_pem"));
  out.not_before = CA_TRY(r.Int("not_before"));
  out.not_after = CA_TRY(r.Int("not_after"));
  CA_TRY_STATUS(r.RefuseUnknown());
  CA_TRY_STATUS(CheckSerialHex("issued", out.serial_hex));
  return Response(std::move(out));
}

Result<Response> RevokedFromJson(const json& body) {
  auto r = CA_TRY(pki::JsonFields::Of(body, "revoked"));
  RevokeResponse out;
  out.newly_revoked = CA_TRY(r.Bool("newly_revoked"));
  out.revoked_at = CA_TRY(r.Int("revoked_at"));
  CA_TRY_STATUS(r.RefuseUnknown());
  return Response(out);
}

Result<Response> RevokedAllFromJson(const json& body) {
  auto r = CA_TRY(pki::JsonFields::Of(body, "revoked_all"));
  RevokeAllForAccountResponse out;
  out.revoked_count = CA_TRY(r.Uint("revoked_count"));
  CA_TRY_STATUS(r.RefuseUnknown());
  return Response(out);
}

Result<Response> CertificateFromJson(const json& body) {
  auto r = CA_TRY(pki::JsonFields::Of(body, "certificate"));
  CertificateRecord out;
  out.serial_hex = CA_TRY(r.String("serial_hex"));
  out.certificate_pem = CA_TRY(r.String("certificate_pem"));
  out.chain_pem = CA_TRY(r.String("chain_pem"));
  out.acme_account_id = CA_TRY(r.String("acme_account_id"));
  out.external_account_kid = CA_TRY(r.String("external_account_kid"));
  out.profile = CA_TRY(r.String("profile"));
  out.not_before = CA_TRY(r.Int("not_before"));
  out.not_after = CA_TRY(r.Int("not_after"));
  out.revoked = CA_TRY(r.Bool("revoked"));
  out.revoked_at = CA_TRY(r.Int("revoked_at"));
  out.reason = CA_TRY(ReadReason(r));
  CA_TRY_STATUS(r.RefuseUnknown());
  CA_TRY_STATUS(CheckSerialHex("certificate", out.serial_hex));
  return Response(std::move(out));
}

Result<Response> EabVerdictFromJson(const json& body) {
  auto r = CA_TRY(pki::JsonFields::Of(body, "eab_verdict"));
  ExternalAccountBindingVerdict out;
  out.verified = CA_TRY(r.Bool("verified"));
  CA_TRY_STATUS(r.RefuseUnknown());
  return Response(out);
}

Result<Response> ErrorFromJson(const json& body) {
  auto r = CA_TRY(pki::JsonFields::Of(body, "error"));
  EngineError out;
  std::string kind = CA_TRY(r.String("kind"));
  out.kind = CA_TRY(ParseErrorKind(kind));
  out.result_code = CA_TRY(r.OptionalString("result_code")).value_or("");
  out.name = CA_TRY(r.OptionalString("name")).value_or("");
  out.detail = CA_TRY(r.String("detail"));
  CA_TRY_STATUS(r.RefuseUnknown());
  return Response(std::move(out));
}

// Checks the envelope {"v":1,"type":...,"body":{...}} and returns type and body.
Result<std::pair<std::string, const json*>> Envelope(const json& message) {
  auto r = CA_TRY(pki::JsonFields::Of(message, "message"));
  int64_t version = CA_TRY(r.Int("v"));
  std::string type = CA_TRY(r.String("type"));
  auto body = message.find("body");
  if (body == message.end() || !body->is_object()) {
    return Fail(ErrorCode::kInvalidArgument, "message.body: expected an object");
  }
  r.MarkRead("body");
  CA_TRY_STATUS(r.RefuseUnknown());
  if (version != kContractVersion) {
    return Fail(ErrorCode::kInvalidArgument,
                "message.v: unsupported contract version " + std::to_string(version));
  }
  return std::pair<std::string, const json*>(std::move(type), &*body);
}

}  // namespace

nlohmann::json RequestToJson(const Request& request) {
  return {{"v", kContractVersion},
          {"type", RequestTypeName(request)},
          {"body", std::visit(RequestBodyVisitor{}, request)}};
}

Result<Request> RequestFromJson(const nlohmann::json& message) {
  auto [type, body] = CA_TRY(Envelope(message));
  if (type == "issue") return IssueFromJson(*body);
  if (type == "revoke") return RevokeFromJson(*body);
  if (type == "revoke_all") return RevokeAllFromJson(*body);
  if (type == "get_certificate") return GetCertificateFromJson(*body);
  if (type == "verify_eab") return VerifyEabFromJson(*body);
  return Fail(ErrorCode::kInvalidArgument, "message.type: unknown request type '" + type + "'");
}

nlohmann::json ResponseToJson(const Response& response) {
  return {{"v", kContractVersion},
          {"type", ResponseTypeName(response)},
          {"body", std::visit(ResponseBodyVisitor{}, response)}};
}

Result<Response> ResponseFromJson(const nlohmann::json& message) {
  auto [type, body] = CA_TRY(Envelope(message));
  if (type == "issued") return IssuedFromJson(*body);
  if (type == "revoked") return RevokedFromJson(*body);
  if (type == "revoked_all") return RevokedAllFromJson(*body);
  if (type == "certificate") return CertificateFromJson(*body);
  if (type == "error") return ErrorFromJson(*body);
  if (type == "eab_verdict") return EabVerdictFromJson(*body);
  return Fail(ErrorCode::kInvalidArgument, "message.type: unknown response type '" + type + "'");
}

std::string_view EngineErrorKindName(EngineErrorKind kind) {
  switch (kind) {
    case EngineErrorKind::kPolicyDenied: return "policy_denied";
    case EngineErrorKind::kBadCsr: return "bad_csr";
    case EngineErrorKind::kBadRequest: return "bad_request";
    case EngineErrorKind::kNotFound: return "not_found";
    case EngineErrorKind::kAlreadyRevoked: return "already_revoked";
    case EngineErrorKind::kUnauthorized: return "unauthorized";
    case EngineErrorKind::kUnavailable: return "unavailable";
    case EngineErrorKind::kInternal: return "internal";
  }
  return "internal";
}

std::string_view CaEnvironmentName(CaEnvironment env) {
  return env == CaEnvironment::kStaging ? "staging" : "production";
}

}  // namespace ca::engine::api
