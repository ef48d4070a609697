#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "gateway/validation/challenges.h"
#include "gateway/validation/networks.h"

#include "common/encoding.h"

namespace ca::gateway::validation {

namespace {

struct Url {
  bool https = false;
  std::string host;  // normalized DNS name
  uint16_t port = 0;
  std::string path;  // starts with '/', includes the query

  std::string ToString(const ValidatorConfig&) const {
    std::string out = (https ? "https://" : "http://") + host;
    if (port != (https ? 443 : 80)) out += ":" + std::to_string(port);
    return out + path;
  }
};

struct HttpResponse {
  int status = 0;
  std::string location;
  std::string body;
};

std::string_view Trim(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

constexpr size_t kMaxLocation = 2048;

// RFC 3986 path/query characters (unreserved, sub-delims, ":", "@", "/", "?", and "%" escapes):
// what may go into the request line. Anything else (space, CR, LF, "\\", quotes, non-ASCII)
// would let the responder shape the validator's request.
bool IsUriPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("-._~!$&'()*+,;=:@/?%").find(c) != std::string_view::npos;
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Empty when `path` may be sent as it is; otherwise what is wrong with it.
std::string CheckPath(std::string_view path) {
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c < 0x20 || c == 0x7f) return "control character in the path";
    if (c == ' ') return "space in the path";
    if (!IsUriPathChar(c)) return "character not allowed in a URI path";
    if (c == '%' && (i + 2 >= path.size() || !IsHexDigit(path[i + 1]) || !IsHexDigit(path[i + 2])))
      return "malformed percent escape";
  }
  return "";
}

// A host the resolver would take as an IP address in some notation ("10.1", "0x7f.1",
// "2130706433"): a DNS host name's last label is never all digits or a hex number.
bool LooksLikeIpLiteral(std::string_view host) {
  size_t dot = host.rfind('.');
  std::string last = AsciiLower(dot == std::string_view::npos ? host : host.substr(dot + 1));
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  if (last.starts_with("0x")) return std::all_of(last.begin() + 2, last.end(), IsHexDigit);
  return !last.empty() && std::all_of(last.begin(), last.end(), is_digit);
}

// Resolves a Location header against the URL it came from, and applies the redirect rules: at most
// kMaxLocation visible ASCII characters, http or https only, a DNS name (no IP literal, no
// credentials), only the configured http-01 / https ports, a path of RFC 3986 characters.
std::variant<Url, Outcome> ResolveRedirect(const ValidatorConfig& config, const Url& base,
                                           std::string_view location) {
  auto refuse = [&](std::string why) {
    return Outcome::Invalid(ProblemType::kConnection, "redirect from " + base.ToString(config) +
                                                          " to \"" + Excerpt(location, 128) +
                                                          "\" refused: " + why);
  };
  location = Trim(location);
  if (location.empty()) return refuse("empty Location");
  if (location.size() > kMaxLocation)
    return refuse("Location longer than " + std::to_string(kMaxLocation) + " characters");
  for (char c : location) {
    if (c <= 0x20 || c >= 0x7f) return refuse("control character, space or non-ASCII in Location");
  }
  Url next;
  std::string_view rest;
  std::string lower = AsciiLower(location.substr(0, std::min<size_t>(location.size(), 8)));
  if (lower.starts_with("http://")) {
    next.https = false;
    rest = location.substr(7);
  } else if (lower.starts_with("https://")) {
    next.https = true;
    rest = location.substr(8);
  } else if (location.starts_with("//")) {
    next.https = base.https;
    rest = location.substr(2);
  } else if (location.find("://") != std::string_view::npos ||
             location.find(':') < location.find_first_of("/?#")) {
    return refuse("only http and https are followed");
  } else {  // same origin, absolute or relative path
    next = base;
    if (location.starts_with("/")) {
      next.path = std::string(location);
    } else {
      std::string dir = base.path.substr(0, base.path.find('?'));
      dir = dir.substr(0, dir.rfind('/') + 1);
      next.path = dir + std::string(location);
    }
    if (size_t hash = next.path.find('#'); hash != std::string::npos) next.path.resize(hash);
    if (next.path.empty()) next.path = "/";
    if (auto why = CheckPath(next.path); !why.empty()) return refuse(why);
    return next;
  }
  size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string path =
      path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if (path.starts_with("?")) path = "/" + path;
  if (size_t hash = path.find('#'); hash != std::string::npos) path.resize(hash);
  if (path.empty()) path = "/";
  if (authority.find('@') != std::string_view::npos) return refuse("credentials in URL");
  if (authority.starts_with("[")) return refuse("redirects to IP addresses are not followed");
  std::string_view host = authority;
  std::optional<uint16_t> port;
  if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    std::string_view digits = authority.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size() || value == 0 || value > 65535) {
      return refuse("bad port");
    }
    port = static_cast<uint16_t>(value);
  }
  if (IpAddress::Parse(host) || LooksLikeIpLiteral(host))
    return refuse("redirects to IP addresses are not followed");
  auto name = NormalizeDnsName(host);
  if (!name) return refuse("host is not a DNS name");
  next.host = *name;
  uint16_t allowed = next.https ? config.https_port : config.http01_port;
  if (port && *port != allowed) {
    return refuse("port " + std::to_string(*port) + " is not the " +
                  (next.https ? "https" : "http") + " port (" + std::to_string(allowed) + ")");
  }
  next.port = allowed;
  next.path = path;
  if (auto why = CheckPath(next.path); !why.empty()) return refuse(why);
  return next;
}

// Splits a response head into status and the headers we use. Error kCorrupt when malformed.
Result<HttpResponse> ParseHead(std::string_view head, std::string& transfer_encoding,
                               std::optional<size_t>& content_length) {
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    return Fail(ErrorCode::kCorrupt, "malformed HTTP status line (not an HTTP/1.x response)");
  }
  HttpResponse response;
  auto code = status_line.substr(9, 3);
  auto [end, ec] = std::from_chars(code.data(), code.data() + 3, response.status);
  if (ec != std::errc() || end != code.data() + 3) {
    return Fail(ErrorCode::kCorrupt, "malformed HTTP status line (not an HTTP/1.x response)");
  }
  size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t line_end = head.find("\r\n", pos);
    if (line_end == std::string_view::npos) line_end = head.size();
    std::string_view line = head.substr(pos, line_end - pos);
    pos = line_end + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos)
      return Fail(ErrorCode::kCorrupt, "malformed HTTP header line");
    std::string key = AsciiLower(Trim(line.substr(0, colon)));
    std::string_view value = Trim(line.substr(colon + 1));
    if (key == "location") {
      response.location = std::string(value);
    } else if (key == "transfer-encoding") {
      transfer_encoding = AsciiLower(value);
    } else if (key == "content-length") {
      size_t n = 0;
      auto [e, err] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (err != std::errc() || e != value.data() + value.size())
        return Fail(ErrorCode::kCorrupt, "bad Content-Length");
      content_length = n;
    }
  }
  return response;
}

Result<std::string> DecodeChunked(std::string_view data, size_t max_body) {
  std::string body;
  size_t pos = 0;
  while (true) {
    size_t eol = data.find("\r\n", pos);
    if (eol == std::string_view::npos) return Fail(ErrorCode::kCorrupt, "truncated chunked body");
    std::string_view size_text = data.substr(pos, eol - pos);
    size_text = size_text.substr(0, size_text.find(';'));
    size_t size = 0;
    auto [end, ec] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (ec != std::errc() || end != size_text.data() + size_text.size()) {
      return Fail(ErrorCode::kCorrupt, "malformed chunk size");
    }
    pos = eol + 2;
    if (size == 0) return body;
    if (body.size() + size > max_body) {
      return Fail(ErrorCode::kResourceExhausted,
                  "response body larger than " + std::to_string(max_body) + " bytes");
    }
    if (pos + size + 2 > data.size()) return Fail(ErrorCode::kCorrupt, "truncated chunked body");
    body.append(data.substr(pos, size));
    pos += size + 2;
  }
}

constexpr size_t kMaxHead = 8192;

// One GET over an open connection.
Result<HttpResponse> Exchange(Connection& conn, const Url& url, const ValidatorConfig& config,
                              Clock::time_point deadline) {
  std::string host_header = url.host;
  if (url.port != (url.https ? 443 : 80)) host_header += ":" + std::to_string(url.port);
  std::string request =
      "GET " + url.path + " HTTP/1.1\r\nHost: " + host_header +
      "\r\nUser-Agent: acme-ca-validation/1\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  CA_TRY_STATUS(conn.WriteAll(request, deadline));

  std::string data;
  char buffer[4096];
  size_t head_end = std::string::npos;
  bool eof = false;
  while (head_end == std::string::npos) {
    size_t n = CA_TRY(conn.Read(buffer, deadline));
    if (n == 0)
      return Fail(ErrorCode::kCorrupt,
                  "connection closed before the end of the HTTP response head");
    data.append(buffer, n);
    head_end = data.find("\r\n\r\n");
    if (head_end == std::string::npos && data.size() > kMaxHead) {
      return Fail(ErrorCode::kResourceExhausted,
                  "HTTP response head larger than " + std::to_string(kMaxHead) + " bytes");
    }
  }
  std::string transfer_encoding;
  std::optional<size_t> content_length;
  HttpResponse response = CA_TRY(
      ParseHead(std::string_view(data).substr(0, head_end), transfer_encoding, content_length));
  if (response.status != 200) return response;  // the body of a redirect or an error is not needed

  std::string raw_body = data.substr(head_end + 4);
  const bool chunked = transfer_encoding.find("chunked") != std::string::npos;
  const size_t limit = config.max_body_bytes;
  if (!chunked && content_length && *content_length > limit) {
    return Fail(ErrorCode::kResourceExhausted,
                "response body larger than " + std::to_string(limit) + " bytes");
  }
  // Chunk framing needs some room on top of the body limit.
  const size_t raw_limit = chunked ? limit + limit / 2 + 1024 : limit;
  while (!eof) {
    if (!chunked && content_length && raw_body.size() >= *content_length) break;
    if (chunked && DecodeChunked(raw_body, limit))
      break;  // complete (servers may keep the connection)
    if (raw_body.size() > raw_limit) {
      return Fail(ErrorCode::kResourceExhausted,
                  "response body larger than " + std::to_string(limit) + " bytes");
    }
    size_t n = CA_TRY(conn.Read(buffer, deadline));
    if (n == 0) {
      eof = true;
    } else {
      raw_body.append(buffer, n);
    }
  }
  if (chunked) {
    response.body = CA_TRY(DecodeChunked(raw_body, limit));
  } else if (content_length) {
    if (raw_body.size() < *content_length)
      return Fail(ErrorCode::kCorrupt, "connection closed before the end of the body");
    response.body = raw_body.substr(0, *content_length);
  } else {
    if (raw_body.size() > limit) {
      return Fail(ErrorCode::kResourceExhausted,
                  "response body larger than " + std::to_string(limit) + " bytes");
    }
    response.body = std::move(raw_body);
  }
  return response;
}

// Connects (Dial: allow-list, A addresses first), optionally TLS, and does one GET.
std::variant<HttpResponse, Outcome> Fetch(const Perspective& p, const Url& url) {
  auto dialed = Dial(p, url.host, url.port);
  if (auto* outcome = std::get_if<Outcome>(&dialed)) return *outcome;
  auto& [conn, deadline] = std::get<Dialed>(dialed);
  if (url.https) {
    if (auto tls = conn.StartTls(url.host, "", deadline); !tls) return NetErrorOutcome(tls.error());
  }
  auto response = Exchange(conn, url, p.config, deadline);
  if (response) return std::move(*response);
  const Error& e = response.error();
  std::string where = "fetching " + url.ToString(p.config) + ": ";
  if (e.code == ErrorCode::kCorrupt || e.code == ErrorCode::kResourceExhausted) {
    return Outcome::Invalid(ProblemType::kUnauthorized, where + e.message);
  }
  Outcome outcome = NetErrorOutcome(e);
  outcome.detail = where + outcome.detail;
  return outcome;
}

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// What is wrong with a body that is not the key authorization, without quoting it: the responder
// may be a service the challenge pointed the validator at, and its bytes are not ours to relay.
std::string DescribeMismatch(std::string_view body, const std::string& token,
                             const std::string& key_authorization) {
  const size_t dot = body.find('.');
  const bool shaped =
      dot != std::string_view::npos && body.size() <= 2 * key_authorization.size() &&
      std::all_of(body.begin(), body.end(), [](char c) { return IsTokenChar(c) || c == '.'; });
  if (shaped && body.substr(0, dot) == token)
    return "the key authorization is for this token but another account key (thumbprint differs)";
  if (shaped) return "the key authorization is for another token";
  return "the body (" + std::to_string(body.size()) + " bytes after trimming) is not a key " +
         "authorization (expected " + std::to_string(key_authorization.size()) + " bytes)";
}

}  // namespace

Outcome CheckHttp01(const Perspective& p, const std::string& name, const std::string& token,
                    const std::string& key_authorization) {
  if (token.empty() || !std::all_of(token.begin(), token.end(), IsTokenChar)) {
    return Outcome::Invalid(ProblemType::kMalformed, "challenge token is not base64url");
  }
  Url url{false, name, p.config.http01_port, "/.well-known/acme-challenge/" + token};
  for (int redirects = 0;; ++redirects) {
    auto fetched = Fetch(p, url);
    if (auto* outcome = std::get_if<Outcome>(&fetched)) return *outcome;
    const HttpResponse& response = std::get<HttpResponse>(fetched);
    const int s = response.status;
    if (s == 301 || s == 302 || s == 303 || s == 307 || s == 308) {
      if (redirects >= p.config.max_redirects) {
        return Outcome::Invalid(ProblemType::kConnection,
                                "too many redirects (more than " +
                                    std::to_string(p.config.max_redirects) + ") at " +
                                    url.ToString(p.config));
      }
      auto next = ResolveRedirect(p.config, url, response.location);
      if (auto* outcome = std::get_if<Outcome>(&next)) return *outcome;
      url = std::get<Url>(next);
      continue;
    }
    if (s != 200) {
      return Outcome::Invalid(
          ProblemType::kUnauthorized,
          "Invalid response from " + url.ToString(p.config) + ": HTTP " + std::to_string(s));
    }
    std::string_view body = Trim(response.body);
    if (body == key_authorization) {
      return Outcome::Valid("key authorization served at " + url.ToString(p.config));
    }
    return Outcome::Invalid(
        ProblemType::kIncorrectResponse,
        "The key authorization file from " + url.ToString(p.config) +
            " does not match this challenge: " + DescribeMismatch(body, token, key_authorization));
  }
}

}  // namespace ca::gateway::validation
