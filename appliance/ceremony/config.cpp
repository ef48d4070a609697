#include "appliance/ceremony/config.h"

#include <arpa/inet.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <set>

#include "common/encoding.h"
#include "pki/json_fields.h"
#include "pki/revocation_reason.h"
#include "pki/serial.h"
#include "pki/time.h"

namespace ca::appliance::ceremony {

namespace {

using nlohmann::json;

using pki::JsonFields;

// Messages name the field path; ParseConfig puts "config: " in front of every one.
std::unexpected<Error> Bad(std::string_view where, std::string_view what) {
  return Fail(ErrorCode::kInvalidArgument, std::string(where) + ": " + std::string(what));
}

// The object `field` of `parent`, with only `allowed` fields in it.
Result<JsonFields> Section(JsonFields& parent, std::string_view field,
                           std::initializer_list<std::string_view> allowed) {
  const json* object = CA_TRY(parent.Object(field));
  auto section = CA_TRY(JsonFields::Of(*object, parent.PathOf(field)));
  CA_TRY_STATUS(section.AllowOnly(allowed));
  return section;
}

// Every string in a config is non-empty and free of control characters (the values end up in
// certificates, file names and the transcript).
Result<std::optional<std::string>> OptionalText(JsonFields& f, std::string_view field) {
  auto value = CA_TRY(f.OptionalNonEmptyString(field));
  if (!value) return value;
  for (unsigned char c : *value) {
    if (c < 0x20 || c == 0x7f) return f.Bad(field, "contains a control character");
  }
  return value;
}

Result<std::string> Text(JsonFields& f, std::string_view field) {
  auto value = CA_TRY(OptionalText(f, field));
  if (!value) return f.Bad(field, "missing");
  return std::move(*value);
}

Result<int> GetDays(JsonFields& f, std::string_view field, int fallback, int min, int max) {
  auto days = CA_TRY(f.OptionalInt(field));
  if (!days) return fallback;
  if (*days < min || *days > max) {
    return f.Bad(field, "out of range: " + std::to_string(*days) + " (allowed " +
                            std::to_string(min) + ".." + std::to_string(max) + " days)");
  }
  return static_cast<int>(*days);
}

Result<std::vector<std::string>> GetStringList(JsonFields& f, std::string_view field) {
  return CA_TRY(f.OptionalStringList(field)).value_or(std::vector<std::string>());
}

struct KeyTypeEntry {
  std::string_view name;
  hsm::KeyType type;
};
constexpr KeyTypeEntry kKeyTypes[] = {{"rsa3072", hsm::KeyType::kRsa3072},
                                      {"rsa4096", hsm::KeyType::kRsa4096},
                                      {"ec-p256", hsm::KeyType::kEcP256},
                                      {"ec-p384", hsm::KeyType::kEcP384}};

// A key label: printable ASCII without spaces at the ends, at most 64 characters (PKCS#11 tools
// show it; the engine finds keys by it).
Status CheckLabel(std::string_view where, const std::string& label) {
  if (label.size() > 64) return Bad(where, "longer than 64 characters");
  for (unsigned char c : label) {
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.')) {
      return Bad(where, "'" + label + "' may only contain letters, digits, '-', '_' and '.'");
    }
  }
  return Ok();
}

// "key_type": one of the role's allowed types; absent means `fallback` when the role has one.
Result<hsm::KeyType> GetKeyType(JsonFields& f, std::initializer_list<hsm::KeyType> allowed,
                                std::optional<hsm::KeyType> fallback) {
  auto given = CA_TRY(OptionalText(f, "key_type"));
  if (!given && fallback) return *fallback;
  if (!given) return f.Bad("key_type", "missing");
  const std::string& name = *given;
  std::string list;
  for (auto t : allowed) list += (list.empty() ? "" : ", ") + std::string(KeyTypeLabel(t));
  for (const auto& e : kKeyTypes) {
    if (e.name == name && std::find(allowed.begin(), allowed.end(), e.type) != allowed.end()) {
      return e.type;
    }
  }
  return f.Bad("key_type", "unsupported key type '" + name + "' (allowed: " + list + ")");
}

Result<KeySpec> GetKeySpec(JsonFields& f, std::initializer_list<hsm::KeyType> allowed,
                           std::optional<hsm::KeyType> fallback) {
  KeySpec spec{};
  spec.label = CA_TRY(Text(f, "key_label"));
  CA_TRY_STATUS(CheckLabel(f.PathOf("key_label"), spec.label));
  spec.type = CA_TRY(GetKeyType(f, allowed, fallback));
  return spec;
}

struct SubjectAttr {
  std::string_view key;      // config key
  std::string_view openssl;  // OpenSSL short name
  size_t max_len;
};
constexpr SubjectAttr kSubjectAttrs[] = {
    {"C", "C", 2},   {"ST", "ST", 128}, {"L", "L", 128},
    {"O", "O", 64},  {"OU", "OU", 64},  {"organizationIdentifier", "organizationIdentifier", 64},
    {"CN", "CN", 64}};

Result<Subject> GetSubject(JsonFields& parent) {
  auto s = CA_TRY(
      Section(parent, "subject", {"C", "ST", "L", "O", "OU", "organizationIdentifier", "CN"}));
  Subject subject;
  for (const auto& a : kSubjectAttrs) {
    auto given = CA_TRY(OptionalText(s, a.key));
    if (!given) continue;
    const std::string& value = *given;
    if (value.size() > a.max_len) {
      return s.Bad(a.key, "longer than " + std::to_string(a.max_len) + " bytes");
    }
    if (a.key == "C" && (value.size() != 2 || !std::isupper(static_cast<unsigned char>(value[0])) ||
                         !std::isupper(static_cast<unsigned char>(value[1])))) {
      return s.Bad("C", "must be a two-letter upper-case country code");
    }
    if (a.key == "CN") subject.common_name = value;
    subject.attributes.emplace_back(std::string(a.openssl), value);
  }
  if (subject.common_name.empty()) return s.Bad("CN", "missing");
  return subject;
}

// http(s) URL without characters that would need escaping or that OpenSSL's config syntax treats
// specially (',' separates values).
Status CheckUrl(std::string_view where, const std::string& url) {
  if (!(url.starts_with("http://") || url.starts_with("https://"))) {
    return Bad(where, "must be an http:// or https:// URL");
  }
  size_t host_start = url.find("//") + 2;
  if (host_start >= url.size() || url[host_start] == '/') return Bad(where, "URL has no host");
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f || c == ',' || c == '"' || c == '\\') {
      return Bad(where, "URL contains a space, ',' or a non-ASCII character");
    }
  }
  return Ok();
}

enum class DnsNameUse {
  kConstraint,  // a name constraint subtree: a leading '.' restricts it to subdomains
  kHost,        // a subjectAltName dNSName: a host name, no wildcard
};

// Lower-case LDH labels (the names also go into OpenSSL's extension config syntax, which they
// cannot break). A host name's last label is not all digits: that is an IPv4 address.
Status CheckDnsName(std::string_view where, const std::string& name, DnsNameUse use) {
  std::string_view n = name;
  if (use == DnsNameUse::kConstraint && n.starts_with('.')) n.remove_prefix(1);
  if (n.empty() || n.size() > 253) return Bad(where, "'" + name + "' is not a DNS name");
  size_t start = 0;
  std::string_view label;
  while (start <= n.size()) {
    size_t dot = n.find('.', start);
    label = n.substr(start, dot == std::string_view::npos ? n.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return Bad(where, "'" + name + "' is not a DNS name");
    }
    for (unsigned char c : label) {
      if (!(std::islower(c) || std::isdigit(c) || c == '-')) {
        return Bad(where, "'" + name + "' is not a lower-case DNS name");
      }
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (use == DnsNameUse::kHost &&
      std::all_of(label.begin(), label.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return Bad(where, "'" + name + "' is an IP address, not a DNS name (list it in ip_addresses)");
  }
  return Ok();
}

// An IPv4 or IPv6 literal in inet_ntop's canonical form (so duplicates are found and the
// certificate, manifest and transcript show one spelling); nullopt if `text` is not one.
std::optional<std::string> CanonicalIpAddress(const std::string& text) {
  unsigned char addr[sizeof(in6_addr)];
  char out[INET6_ADDRSTRLEN];
  int family = inet_pton(AF_INET, text.c_str(), addr) == 1    ? AF_INET
               : inet_pton(AF_INET6, text.c_str(), addr) == 1 ? AF_INET6
                                                              : 0;
  if (family == 0 || inet_ntop(family, addr, out, sizeof(out)) == nullptr) return std::nullopt;
  return std::string(out);
}

Status CheckPinSource(std::string_view where, const std::string& source) {
  if (source.starts_with("file:") && source.size() > 5 && source[5] == '/') return Ok();
  if (source.starts_with("env:") && source.size() > 4) return Ok();
  return Bad(where, "must be \"file:/absolute/path\" or \"env:NAME\" (never the PIN itself)");
}

Result<TokenSection> GetToken(JsonFields& top, bool init) {
  auto t = CA_TRY(init ? Section(top, "token", {"module", "label", "user_pin", "so_pin"})
                       : Section(top, "token", {"module", "label", "user_pin"}));
  TokenSection token;
  token.module_path = CA_TRY(Text(t, "module"));
  if (!token.module_path.starts_with('/')) return Bad("token.module", "must be an absolute path");
  token.label = CA_TRY(Text(t, "label"));
  if (token.label.size() > 32)
    return Bad("token.label", "longer than 32 characters (PKCS#11 limit)");
  token.user_pin_source = CA_TRY(Text(t, "user_pin"));
  CA_TRY_STATUS(CheckPinSource("token.user_pin", token.user_pin_source));
  if (init) {
    token.so_pin_source = CA_TRY(Text(t, "so_pin"));
    CA_TRY_STATUS(CheckPinSource("token.so_pin", token.so_pin_source));
  }
  return token;
}

Result<IssuerSection> GetIssuer(JsonFields& top) {
  auto i = CA_TRY(Section(top, "issuer", {"key_label", "certificate"}));
  IssuerSection issuer;
  issuer.key_label = CA_TRY(Text(i, "key_label"));
  CA_TRY_STATUS(CheckLabel("issuer.key_label", issuer.key_label));
  issuer.certificate_path = CA_TRY(Text(i, "certificate"));
  return issuer;
}

Result<RootSection> GetRoot(JsonFields& top) {
  auto r = CA_TRY(Section(top, "root", {"key_label", "key_type", "subject", "validity_days"}));
  RootSection out;
  out.key = CA_TRY(
      GetKeySpec(r, {hsm::KeyType::kRsa3072, hsm::KeyType::kRsa4096, hsm::KeyType::kEcP384}, {}));
  out.subject = CA_TRY(GetSubject(r));
  out.validity_days = CA_TRY(GetDays(r, "validity_days", 7305, kRootMinDays, kRootMaxDays));
  return out;
}

Result<IntermediateSection> GetIntermediate(JsonFields& top) {
  auto m = CA_TRY(Section(top, "intermediate",
                          {"key_label", "key_type", "subject", "validity_days", "crl_url",
                           "ca_issuers_url", "permitted_dns", "excluded_dns"}));
  IntermediateSection out;
  out.key = CA_TRY(GetKeySpec(m, {hsm::KeyType::kRsa3072, hsm::KeyType::kRsa4096}, {}));
  out.subject = CA_TRY(GetSubject(m));
  out.validity_days =
      CA_TRY(GetDays(m, "validity_days", 1826, kIntermediateMinDays, kIntermediateMaxDays));
  out.crl_url = CA_TRY(Text(m, "crl_url"));
  CA_TRY_STATUS(CheckUrl("intermediate.crl_url", out.crl_url));
  out.ca_issuers_url = CA_TRY(Text(m, "ca_issuers_url"));
  CA_TRY_STATUS(CheckUrl("intermediate.ca_issuers_url", out.ca_issuers_url));
  out.permitted_dns = CA_TRY(GetStringList(m, "permitted_dns"));
  out.excluded_dns = CA_TRY(GetStringList(m, "excluded_dns"));
  for (size_t i = 0; i < out.permitted_dns.size(); ++i) {
    CA_TRY_STATUS(CheckDnsName("intermediate.permitted_dns[" + std::to_string(i) + "]",
                               out.permitted_dns[i], DnsNameUse::kConstraint));
  }
  for (size_t i = 0; i < out.excluded_dns.size(); ++i) {
    CA_TRY_STATUS(CheckDnsName("intermediate.excluded_dns[" + std::to_string(i) + "]",
                               out.excluded_dns[i], DnsNameUse::kConstraint));
  }
  return out;
}

Result<OcspSignerSection> GetOcspSigner(JsonFields& top) {
  auto o =
      CA_TRY(Section(top, "ocsp_signer", {"key_label", "key_type", "subject", "validity_days"}));
  OcspSignerSection out;
  out.key =
      CA_TRY(GetKeySpec(o, {hsm::KeyType::kEcP256, hsm::KeyType::kRsa3072, hsm::KeyType::kRsa4096},
                        hsm::KeyType::kEcP256));
  out.subject = CA_TRY(GetSubject(o));
  out.validity_days = CA_TRY(GetDays(o, "validity_days", 365, kOcspMinDays, kOcspMaxDays));
  return out;
}

Result<TlsServerSection> GetTlsServer(JsonFields& top) {
  auto t = CA_TRY(Section(top, "tls_server",
                          {"subject", "dns_names", "ip_addresses", "key_type", "validity_days"}));
  TlsServerSection out;
  out.subject = CA_TRY(GetSubject(t));
  std::set<std::string> seen;
  auto dns = CA_TRY(GetStringList(t, "dns_names"));
  for (size_t i = 0; i < dns.size(); ++i) {
    std::string at = "tls_server.dns_names[" + std::to_string(i) + "]";
    CA_TRY_STATUS(CheckDnsName(at, dns[i], DnsNameUse::kHost));
    if (!seen.insert(dns[i]).second) return Bad(at, "'" + dns[i] + "' is listed twice");
    out.names.dns_names.push_back(dns[i]);
  }
  auto ips = CA_TRY(GetStringList(t, "ip_addresses"));
  for (size_t i = 0; i < ips.size(); ++i) {
    std::string at = "tls_server.ip_addresses[" + std::to_string(i) + "]";
    auto ip = CanonicalIpAddress(ips[i]);
    if (!ip) return Bad(at, "'" + ips[i] + "' is not an IPv4 or IPv6 address");
    if (!seen.insert(*ip).second) return Bad(at, "'" + ips[i] + "' is listed twice");
    out.names.ip_addresses.push_back(*ip);
  }
  if (seen.empty()) {
    return Bad("tls_server", "at least one name is required in dns_names or ip_addresses");
  }
  // CA/B BR 7.1.4.3: a subscriber certificate's CN, when present, is one of its SAN values.
  const std::string& cn = out.subject.common_name;
  if (!seen.contains(CanonicalIpAddress(cn).value_or(cn))) {
    return Bad("tls_server.subject.CN",
               "'" + cn + "' must also be listed in dns_names or ip_addresses");
  }
  out.key_type =
      CA_TRY(GetKeyType(t, {hsm::KeyType::kEcP256, hsm::KeyType::kRsa3072}, hsm::KeyType::kEcP256));
  out.validity_days =
      CA_TRY(GetDays(t, "validity_days", 397, kTlsServerMinDays, kTlsServerMaxDays));
  return out;
}

// "2026-01-31T12:00:00Z" -> "20260131120000Z".
Result<std::string> ParseUtcTime(std::string_view where, const std::string& text) {
  auto time = pki::ParseRfc3339(text);
  if (!time) return Bad(where, time.error().message);
  return text.substr(0, 4) + text.substr(5, 2) + text.substr(8, 2) + text.substr(11, 2) +
         text.substr(14, 2) + text.substr(17, 2) + "Z";
}

// One entry of root_crl.revoked; `seen` holds the serials of the entries before it.
Result<RevokedEntry> GetRevoked(const json& item, std::string at, std::set<std::string>& seen) {
  auto e = CA_TRY(JsonFields::Of(item, at));
  CA_TRY_STATUS(e.AllowOnly({"serial", "reason", "revocation_date"}));
  RevokedEntry entry;
  auto parsed = pki::Serial::FromOperatorHex(CA_TRY(Text(e, "serial")));
  if (!parsed) return e.Bad("serial", "must be a hexadecimal serial number of at most 20 bytes");
  entry.serial_hex = parsed->Hex();
  if (!seen.insert(entry.serial_hex).second) return e.Bad("serial", "listed twice");
  if (auto reason = CA_TRY(OptionalText(e, "reason"))) {
    auto parsed_reason = pki::ParseReason(*reason);
    if (!parsed_reason) return e.Bad("reason", "unknown reason '" + *reason + "'");
    entry.reason = pki::ReasonCode(*parsed_reason);
  }
  if (auto date = CA_TRY(OptionalText(e, "revocation_date"))) {
    entry.revocation_date = CA_TRY(ParseUtcTime(e.PathOf("revocation_date"), *date));
  }
  return entry;
}

Result<RootCrlSection> GetRootCrl(JsonFields& top) {
  auto c = CA_TRY(
      Section(top, "root_crl", {"crl_number", "crl_number_file", "next_update_days", "revoked"}));
  RootCrlSection out;
  auto number = CA_TRY(c.OptionalUint("crl_number"));
  auto number_file = CA_TRY(OptionalText(c, "crl_number_file"));
  if (number.has_value() == number_file.has_value()) {
    return Bad("root_crl", "exactly one of crl_number and crl_number_file is required");
  }
  if (number) {
    if (*number == 0 || *number > (uint64_t{1} << 62)) {
      return c.Bad("crl_number", "must be a positive integer");
    }
    out.crl_number = *number;
  } else {
    out.crl_number_file = *number_file;
  }
  out.next_update_days = CA_TRY(GetDays(c, "next_update_days", 365, kCrlMinDays, kCrlMaxDays));
  const json* list = CA_TRY(c.OptionalArray("revoked"));
  if (list == nullptr) return out;
  std::set<std::string> seen;
  for (size_t i = 0; i < list->size(); ++i) {
    std::string at = "root_crl.revoked[" + std::to_string(i) + "]";
    out.revoked.push_back(CA_TRY(GetRevoked((*list)[i], at, seen)));
  }
  return out;
}

Status CheckTestCn(std::string_view where, const Subject& subject) {
  if (subject.common_name.find("TEST") == std::string::npos) {
    return Bad(
        std::string(where) + ".subject.CN",
        "a staging certificate's CN must contain \"TEST\" (got '" + subject.common_name + "')");
  }
  return Ok();
}

// Rejects duplicate keys in any object (nlohmann keeps the last one silently).
bool HasDuplicateKeys(std::string_view text, std::string* where) {
  std::vector<std::set<std::string>> stack;
  bool dup = false;
  json::parser_callback_t cb = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) stack.emplace_back();
    if (event == json::parse_event_t::object_end && !stack.empty()) stack.pop_back();
    if (event == json::parse_event_t::key && !stack.empty()) {
      std::string key = parsed.get<std::string>();
      if (!stack.back().insert(key).second && !dup) {
        dup = true;
        *where = key;
      }
    }
    return true;
  };
  json ignored = json::parse(text, cb, /*allow_exceptions=*/false);
  return dup;
}

}  // namespace

std::string_view CeremonyKindName(CeremonyKind kind) {
  switch (kind) {
    case CeremonyKind::kInitToken:
      return "init-token";
    case CeremonyKind::kRoot:
      return "root";
    case CeremonyKind::kIntermediate:
      return "intermediate";
    case CeremonyKind::kOcspSigner:
      return "ocsp-signer";
    case CeremonyKind::kRootCrl:
      return "root-crl";
    case CeremonyKind::kTlsServer:
      return "tls-server";
    case CeremonyKind::kStaging:
      return "staging";
    case CeremonyKind::kAll:
      return "all";
  }
  return "?";
}

std::string_view KeyTypeLabel(hsm::KeyType type) {
  for (const auto& e : kKeyTypes) {
    if (e.type == type) return e.name;
  }
  return "?";
}

namespace {

// The top-level keys a ceremony of `kind` takes (any other is refused).
std::vector<std::string_view> TopLevelKeys(CeremonyKind kind) {
  std::vector<std::string_view> keys = {"ceremony", "operator", "token", "output_dir"};
  switch (kind) {
    case CeremonyKind::kInitToken:
      break;
    case CeremonyKind::kRoot:
      keys.push_back("root");
      break;
    case CeremonyKind::kIntermediate:
      keys.insert(keys.end(), {"issuer", "intermediate"});
      break;
    case CeremonyKind::kOcspSigner:
      keys.insert(keys.end(), {"issuer", "ocsp_signer"});
      break;
    case CeremonyKind::kRootCrl:
      keys.insert(keys.end(), {"issuer", "root_crl"});
      break;
    case CeremonyKind::kTlsServer:
      keys.insert(keys.end(), {"issuer", "tls_server"});
      break;
    case CeremonyKind::kStaging:
    case CeremonyKind::kAll:
      keys.insert(keys.end(), {"root", "intermediate", "ocsp_signer", "root_crl"});
      break;
  }
  return keys;
}

Result<CeremonyKind> GetKind(JsonFields& top) {
  std::string kind = CA_TRY(Text(top, "ceremony"));
  constexpr CeremonyKind kinds[] = {CeremonyKind::kInitToken,    CeremonyKind::kRoot,
                                    CeremonyKind::kIntermediate, CeremonyKind::kOcspSigner,
                                    CeremonyKind::kRootCrl,      CeremonyKind::kTlsServer,
                                    CeremonyKind::kStaging,      CeremonyKind::kAll};
  std::string names;
  for (auto k : kinds) {
    if (CeremonyKindName(k) == kind) return k;
    names += (names.empty() ? "" : ", ") + std::string(CeremonyKindName(k));
  }
  return Bad("ceremony", "unknown ceremony '" + kind + "' (" + names + ")");
}

// The sections of `config.kind`, each read and checked on its own.
Status GetSections(JsonFields& root, CeremonyConfig& config) {
  bool issued = config.kind == CeremonyKind::kIntermediate ||
                config.kind == CeremonyKind::kOcspSigner || config.kind == CeremonyKind::kRootCrl ||
                config.kind == CeremonyKind::kTlsServer;
  bool full = config.kind == CeremonyKind::kStaging || config.kind == CeremonyKind::kAll;
  if (issued) config.issuer = CA_TRY(GetIssuer(root));
  if (config.kind == CeremonyKind::kRoot || full) config.root = CA_TRY(GetRoot(root));
  if (config.kind == CeremonyKind::kIntermediate || full)
    config.intermediate = CA_TRY(GetIntermediate(root));
  if (config.kind == CeremonyKind::kOcspSigner || full)
    config.ocsp_signer = CA_TRY(GetOcspSigner(root));
  if (config.kind == CeremonyKind::kRootCrl || config.kind == CeremonyKind::kAll ||
      (full && CA_TRY(root.OptionalObject("root_crl")) != nullptr)) {
    config.root_crl = CA_TRY(GetRootCrl(root));
  }
  if (config.kind == CeremonyKind::kTlsServer) config.tls_server = CA_TRY(GetTlsServer(root));
  return Ok();
}

// What no single section can check: labels created by one run differ from each other and from
// the issuer's; staging names; the intermediate ends no later than its root.
Status CheckAcrossSections(const CeremonyConfig& config) {
  std::vector<std::pair<std::string, std::string>> labels;
  if (config.root) labels.emplace_back("root.key_label", config.root->key.label);
  if (config.intermediate)
    labels.emplace_back("intermediate.key_label", config.intermediate->key.label);
  if (config.ocsp_signer)
    labels.emplace_back("ocsp_signer.key_label", config.ocsp_signer->key.label);
  if (config.issuer && config.kind != CeremonyKind::kRootCrl) {
    labels.emplace_back("issuer.key_label", config.issuer->key_label);
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    for (size_t j = i + 1; j < labels.size(); ++j) {
      if (labels[i].second == labels[j].second) {
        return Bad(labels[j].first,
                   "'" + labels[j].second + "' is also used by " + labels[i].first);
      }
    }
  }
  if (config.kind == CeremonyKind::kStaging) {
    CA_TRY_STATUS(CheckTestCn("root", config.root->subject));
    CA_TRY_STATUS(CheckTestCn("intermediate", config.intermediate->subject));
    CA_TRY_STATUS(CheckTestCn("ocsp_signer", config.ocsp_signer->subject));
  }
  if (config.intermediate && config.root &&
      config.intermediate->validity_days > config.root->validity_days) {
    return Bad("intermediate.validity_days", "exceeds the root's validity_days");
  }
  return Ok();
}

Result<CeremonyConfig> Parse(std::string_view text) {
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Bad("(file)", "not valid JSON");
  if (!root.is_object()) return Bad("(file)", "the top level must be a JSON object");
  std::string dup;
  if (HasDuplicateKeys(text, &dup)) return Bad(dup, "key appears twice in one object");

  CeremonyConfig config;
  auto top = CA_TRY(JsonFields::Of(root, ""));
  config.kind = CA_TRY(GetKind(top));
  CA_TRY_STATUS(top.AllowOnly(TopLevelKeys(config.kind)));
  config.operator_name = CA_TRY(Text(top, "operator"));
  config.token = CA_TRY(GetToken(top, config.kind == CeremonyKind::kInitToken));
  config.output_dir = CA_TRY(Text(top, "output_dir"));
  if (!config.output_dir.starts_with('/')) return Bad("output_dir", "must be an absolute path");
  while (config.output_dir.size() > 1 && config.output_dir.ends_with('/'))
    config.output_dir.pop_back();
  if (config.output_dir == "/") return Bad("output_dir", "must not be /");
  CA_TRY_STATUS(GetSections(top, config));
  CA_TRY_STATUS(CheckAcrossSections(config));
  return config;
}

}  // namespace

Result<CeremonyConfig> ParseConfig(std::string_view text) {
  Result<CeremonyConfig> config;
  try {
    config = Parse(text);
  } catch (const nlohmann::json::exception& e) {
    config = Bad("(file)", std::string("unexpected JSON content: ") + e.what());
  }
  if (!config) return Fail(config.error().code, "config: " + config.error().message);
  return config;
}

}  // namespace ca::appliance::ceremony
