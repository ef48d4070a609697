#include "crl_ocsp/server/status_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "common/encoding.h"
#include "common/log.h"
#include "common/openssl.h"
#include "crl_ocsp/ocsp_request.h"
#include "crl_ocsp/server/crl_health.h"
#include "crl_ocsp/server/freshness_monitor.h"

namespace ca::crl_ocsp::server {

namespace {

constexpr std::array<std::pair<const char*, const char*>, static_cast<size_t>(Outcome::kCount)>
    kOutcomeLabels{{{"ocsp", "good"},
                    {"ocsp", "revoked"},
                    {"ocsp", "unauthorized"},
                    {"ocsp", "malformedRequest"},
                    {"ocsp", "tryLater"},
                    {"ocsp", "internalError"},
                    {"ocsp", "not_modified"},
                    {"crl", "ok"},
                    {"crl", "not_modified"},
                    {"crl", "not_found"},
                    {"ca", "ok"},
                    {"ca", "not_modified"},
                    {"ca", "not_found"},
                    {"health", "ok"},
                    {"health", "unavailable"},
                    {"metrics", "ok"},
                    {"other", "not_found"},
                    {"other", "method_not_allowed"}}};

// One read transaction per worker thread, kept: reset between requests and renewed at the next
// (LMDB: no reader-slot churn, no allocation on the hot path).
struct ThreadTxn {
  const kv::EnvBackend* env = nullptr;  // the Env it reads (stable while the Env lives)
  std::optional<kv::Txn> txn;
};
thread_local ThreadTxn tls_txn;

class ReadScope {
 public:
  explicit ReadScope(const kv::Env& env) {
    if (tls_txn.txn && tls_txn.env != &env.backend()) tls_txn.txn.reset();
    if (tls_txn.txn) {
      if (Status renewed = tls_txn.txn->Renew(); !renewed) {
        tls_txn.txn.reset();
        log::Error("store_read_failed", {{"error", renewed.error().message}});
        return;
      }
    } else {
      auto begun = kv::Txn::BeginRead(env);
      if (!begun) {
        log::Error("store_read_failed", {{"error", begun.error().message}});
        return;
      }
      tls_txn.txn.emplace(std::move(*begun));
    }
    tls_txn.env = &env.backend();
    ok_ = true;
  }
  ~ReadScope() {
    if (ok_) tls_txn.txn->Reset();
  }
  bool ok() const { return ok_; }
  const kv::Txn& get() const { return *tls_txn.txn; }

 private:
  bool ok_ = false;
};

struct PostBody {
  std::array<uint8_t, kMaxOcspRequestBytes> data;
  size_t len = 0;
  bool too_big = false;
};

// Per worker thread: parsed requests by their bytes and, for each, the last MHD response built for
// it, reused while the stored response (by SHA-256) and the computed max-age are unchanged. The
// store is still read on every request, so freshness and revocations are never served from this
// cache. Bounded; cleared when full.
// GET URLs and POST bodies live in separate caches: the same bytes mean different requests under
// the two methods (a POST whose body is a valid GET path is malformed), so one must never answer
// for the other. Only successful parses are cached: a failure costs the sender a parse each time
// and can never sit under a key that a valid request reaches.
struct CachedRequest {
  ParsedOcspRequest parsed;
  std::array<uint8_t, 32> body_sha256{};
  long long max_age = -1;
  MHD_Response* response = nullptr;
};
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
struct ThreadCache {
  static constexpr size_t kMaxEntries = 8192;
  std::unordered_map<std::string, CachedRequest, KeyHash, std::equal_to<>> entries;
  void Clear() {
    for (auto& [key, entry] : entries) {
      if (entry.response != nullptr) MHD_destroy_response(entry.response);
    }
    entries.clear();
  }
  ~ThreadCache() { Clear(); }
};
thread_local ThreadCache tls_get_cache;
thread_local ThreadCache tls_post_cache;

void FormatHttpDate(Time t, char (&buf)[40]) {
  time_t tt = static_cast<time_t>(t.time_since_epoch().count());
  struct tm tm {};
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

void FormatEtag(std::span<const uint8_t, 32> sha, char (&buf)[40]) {
  static constexpr char kHex[] = "0123456789abcdef";
  buf[0] = '"';
  for (size_t i = 0; i < 16; ++i) {
    buf[1 + 2 * i] = kHex[sha[i] >> 4];
    buf[2 + 2 * i] = kHex[sha[i] & 15];
  }
  buf[33] = '"';
  buf[34] = '\0';
}

bool EtagMatches(MHD_Connection* c, const char* etag) {
  const char* inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
  return inm != nullptr && std::strstr(inm, etag) != nullptr;
}

long long MaxAge(Time next_update, Time now, std::chrono::seconds cap) {
  return std::max<long long>(0, std::min<long long>(cap.count(), (next_update - now).count()));
}

// RFC 5019 §6.2 caching headers. max-age never exceeds nextUpdate - now.
void AddCacheHeaders(MHD_Response* r, Time this_update, Time next_update, const char* etag,
                     Time now, std::chrono::seconds cap) {
  char buf[40];
  FormatHttpDate(this_update, buf);
  MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, buf);
  FormatHttpDate(next_update, buf);
  MHD_add_response_header(r, MHD_HTTP_HEADER_EXPIRES, buf);
  MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
  long long max_age = MaxAge(next_update, now, cap);
  char cc[96];
  std::snprintf(cc, sizeof(cc), "max-age=%lld, public, no-transform, must-revalidate", max_age);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cc);
}

MHD_Result Send(MHD_Connection* c, unsigned status, MHD_Response* r) {
  MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

MHD_Result SendText(MHD_Connection* c, unsigned status, std::string_view content_type,
                    const std::string& body) {
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                                    MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, std::string(content_type).c_str());
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  return Send(c, status, r);
}

MHD_Result AccessHandler(void* cls, MHD_Connection* connection, const char* url, const char* method,
                         const char* /*version*/, const char* upload_data, size_t* upload_data_size,
                         void** con_cls) {
  return static_cast<StatusServer*>(cls)->Handle(connection, url, method, upload_data,
                                                 upload_data_size, con_cls);
}

// con_cls of a GET after its first call (not owned).
char kHeadersSeen;

void RequestCompleted(void* /*cls*/, MHD_Connection* /*c*/, void** con_cls,
                      MHD_RequestTerminationCode /*toe*/) {
  if (*con_cls != &kHeadersSeen) delete static_cast<PostBody*>(*con_cls);
  *con_cls = nullptr;
}

}  // namespace

StatusServer::StatusServer(ServerConfig config, StatusReader reader)
    : config_(std::move(config)), reader_(std::move(reader)) {}

StatusServer::~StatusServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

Result<std::unique_ptr<StatusServer>> StatusServer::Start(const ServerConfig& config) {
  StatusReader reader = CA_TRY(StatusReader::Open(config.store_path));
  std::unique_ptr<StatusServer> server(new StatusServer(config, std::move(reader)));
  server->monitor_ = std::make_unique<FreshnessMonitor>(server->reader_, config.issuers);
  for (OcspError e : {OcspError::kMalformedRequest, OcspError::kInternalError, OcspError::kTryLater,
                      OcspError::kUnauthorized}) {
    server->error_bodies_[static_cast<size_t>(e)] = CA_TRY(OcspErrorResponse(e));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(config.port);
  if (inet_pton(AF_INET, config.listen_address.c_str(), &addr.sin_addr) != 1) {
    return Fail(ErrorCode::kInvalidArgument, "bad listen address " + config.listen_address);
  }
  server->daemon_ = MHD_start_daemon(
      MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO, 0, nullptr, nullptr, &AccessHandler,
      server.get(), MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_THREAD_POOL_SIZE,
      static_cast<unsigned>(config.threads), MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned>(config.connection_timeout.count()), MHD_OPTION_LISTEN_BACKLOG_SIZE,
      1024u, MHD_OPTION_NOTIFY_COMPLETED, &RequestCompleted, nullptr, MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return Fail(ErrorCode::kIo,
                "cannot listen on " + config.listen_address + ":" + std::to_string(config.port));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info != nullptr ? info->port : config.port;
  return server;
}

bool StatusServer::Serves(std::string_view issuer) const {
  return std::find(config_.issuers.begin(), config_.issuers.end(), issuer) != config_.issuers.end();
}

MHD_Result StatusServer::Handle(MHD_Connection* c, const char* url_c, const char* method,
                                const char* upload_data, size_t* upload_data_size, void** con_cls) {
  std::string_view url(url_c);
  std::string_view m(method);
  bool get = m == MHD_HTTP_METHOD_GET || m == MHD_HTTP_METHOD_HEAD;
  if (m == MHD_HTTP_METHOD_POST && url == "/ocsp") {
    auto* body = static_cast<PostBody*>(*con_cls);
    if (body == nullptr) {
      const char* type =
          MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
      if (type == nullptr || !std::string_view(type).starts_with("application/ocsp-request")) {
        Count(Outcome::kBadMethod);
        return SendText(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "text/plain",
                        "POST /ocsp needs Content-Type: application/ocsp-request\n");
      }
      *con_cls = new PostBody;
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      size_t room = body->data.size() - body->len;
      if (*upload_data_size > room) body->too_big = true;
      size_t n = std::min(room, *upload_data_size);
      std::memcpy(body->data.data() + body->len, upload_data, n);
      body->len += n;
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (body->too_big) return ServeOcspError(c, OcspError::kMalformedRequest);
    std::string_view key(reinterpret_cast<const char*>(body->data.data()), body->len);
    return ServeOcsp(c, OcspMethod::kPost, key, [&] { return ParseOcspRequest(AsBytes(key)); });
  }
  if (get && *con_cls == nullptr) {
    // First call: headers only. Answering now would make libmicrohttpd close the connection
    // (it cannot know no body follows); answering on the next call keeps it alive.
    *con_cls = &kHeadersSeen;
    return MHD_YES;
  }
  if (!get) {
    Count(Outcome::kBadMethod);
    return SendText(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "method not allowed\n");
  }
  if (url.starts_with("/ocsp/")) {
    return ServeOcsp(c, OcspMethod::kGet, url, [&] {
      auto der = DecodeOcspGetPath(url.substr(6));
      if (!der) {
        ParsedOcspRequest bad;
        bad.error = OcspError::kMalformedRequest;
        bad.problem = "GET path is not base64 of a DER request";
        return bad;
      }
      return ParseOcspRequest(*der);
    });
  }
  if (url == "/ocsp") return ServeOcspError(c, OcspError::kMalformedRequest);
  if (url.starts_with("/crl/")) {
    if (auto path = ParseCrlRelativePath(url.substr(1)))
      return ServeCrl(c, path->first, path->second);
  }
  if (url.starts_with("/ca/") && url.ends_with(".der"))
    return ServeCaCertificate(c, url.substr(4, url.size() - 8));
  if (url == "/health") return ServeHealth(c);
  if (url == "/metrics") return ServeMetrics(c);
  Count(Outcome::kNotFound);
  return SendText(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
}

MHD_Result StatusServer::ServeOcspError(MHD_Connection* c, OcspError error) {
  switch (error) {
    case OcspError::kMalformedRequest:
      Count(Outcome::kOcspMalformed);
      break;
    case OcspError::kUnauthorized:
      Count(Outcome::kOcspUnauthorized);
      break;
    case OcspError::kTryLater:
      Count(Outcome::kOcspTryLater);
      break;
    case OcspError::kInternalError:
      Count(Outcome::kOcspInternalError);
      break;
  }
  const Bytes& body = error_bodies_[static_cast<size_t>(error)];
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<uint8_t*>(body.data()),
                                                    MHD_RESPMEM_PERSISTENT);
  if (r == nullptr) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/ocsp-response");
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  return Send(c, MHD_HTTP_OK, r);
}

MHD_Result StatusServer::ServeOcsp(MHD_Connection* c, OcspMethod method, std::string_view key,
                                   const std::function<ParsedOcspRequest()>& parse) {
  ThreadCache& cache = method == OcspMethod::kGet ? tls_get_cache : tls_post_cache;
  auto it = cache.entries.find(key);
  if (it == cache.entries.end()) {
    ParsedOcspRequest parsed = parse();
    if (parsed.error) return ServeOcspError(c, *parsed.error);  // never cached
    if (cache.entries.size() >= ThreadCache::kMaxEntries) cache.Clear();
    it = cache.entries.emplace(std::string(key), CachedRequest{std::move(parsed)}).first;
  }
  CachedRequest& entry = it->second;
  const ParsedOcspRequest& req = entry.parsed;
  ReadScope txn(reader_.env());
  if (!txn.ok()) return ServeOcspError(c, OcspError::kInternalError);
  auto issuer = FindIssuerName(txn.get(), reader_.dbs(), req.query.hash, req.query.NameHash(),
                               req.query.KeyHash());
  if (!issuer) return ServeOcspError(c, OcspError::kInternalError);
  if (!*issuer || !Serves(**issuer)) return ServeOcspError(c, OcspError::kUnauthorized);
  auto stored = FindResponse(txn.get(), reader_.dbs(), **issuer, req.query.Serial());
  if (!stored) {
    log::Error("ocsp_lookup_failed", {{"error", stored.error().ToString()}});
    return ServeOcspError(c, OcspError::kInternalError);
  }
  if (!*stored) return ServeOcspError(c, OcspError::kUnauthorized);  // never `good` for unknown
  const StoredResponse& r = **stored;
  Time now = pki::Now();
  if (r.next_update <= now) {
    log::Warn("ocsp_stale_response", {{"issuer", std::string(**issuer)},
                                      {"serial", HexEncode(req.query.Serial())},
                                      {"next_update", r.next_update.time_since_epoch().count()}});
    return ServeOcspError(c, OcspError::kTryLater);
  }
  char etag[40];
  FormatEtag(r.body_sha256, etag);
  if (EtagMatches(c, etag)) {
    MHD_Response* resp = MHD_create_response_from_buffer(0, nullptr, MHD_RESPMEM_PERSISTENT);
    if (resp == nullptr) return MHD_NO;
    AddCacheHeaders(resp, r.this_update, r.next_update, etag, now, config_.max_age);
    Count(Outcome::kOcspNotModified);
    return Send(c, MHD_HTTP_NOT_MODIFIED, resp);
  }
  long long max_age = MaxAge(r.next_update, now, config_.max_age);
  if (entry.response == nullptr || entry.max_age != max_age ||
      !std::equal(r.body_sha256.begin(), r.body_sha256.end(), entry.body_sha256.begin())) {
    // Copied: the view into the map ends with the read transaction.
    MHD_Response* resp = MHD_create_response_from_buffer(
        r.der.size(), const_cast<char*>(r.der.data()), MHD_RESPMEM_MUST_COPY);
    if (resp == nullptr) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/ocsp-response");
    AddCacheHeaders(resp, r.this_update, r.next_update, etag, now, config_.max_age);
    if (entry.response != nullptr) MHD_destroy_response(entry.response);
    entry.response = resp;
    entry.max_age = max_age;
    std::copy(r.body_sha256.begin(), r.body_sha256.end(), entry.body_sha256.begin());
  }
  Count(r.status == CertStatus::kGood ? Outcome::kOcspGood : Outcome::kOcspRevoked);
  return MHD_queue_response(c, MHD_HTTP_OK, entry.response);
}

MHD_Result StatusServer::ServeCrl(MHD_Connection* c, std::string_view name, CrlScope scope) {
  if (!Serves(name)) {
    Count(Outcome::kCrlNotFound);
    return SendText(c, MHD_HTTP_NOT_FOUND, "text/plain", "no such CRL\n");
  }
  ReadScope txn(reader_.env());
  if (!txn.ok())
    return SendText(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "store unavailable\n");
  auto crl = FindCrl(txn.get(), reader_.dbs(), name, scope);
  if (!crl || !*crl) {
    Count(Outcome::kCrlNotFound);
    return SendText(c, MHD_HTTP_NOT_FOUND, "text/plain", "CRL not published\n");
  }
  const StoredCrl& s = **crl;
  Time now = pki::Now();
  if (s.info.next_update <= now) {
    log::Warn("crl_stale", {{"issuer", std::string(name)},
                            {"shard", scope.shard ? nlohmann::json(*scope.shard) : nullptr},
                            {"number", s.info.number}});
  }
  return SendDocument(c, s.der, s.body_sha256, "application/pkix-crl", s.info.this_update,
                      s.info.next_update, now, Outcome::kCrlOk, Outcome::kCrlNotModified);
}

// The caIssuers URL of the certificates an issuer signed (RFC 5280 §4.2.2.1: one DER
// certificate, application/pkix-cert): the issuer certificate registered in the store.
MHD_Result StatusServer::ServeCaCertificate(MHD_Connection* c, std::string_view name) {
  if (!Serves(name)) {
    Count(Outcome::kCaCertNotFound);
    return SendText(c, MHD_HTTP_NOT_FOUND, "text/plain", "no such CA certificate\n");
  }
  ReadScope txn(reader_.env());
  if (!txn.ok())
    return SendText(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "store unavailable\n");
  auto value = txn.get().Get(reader_.dbs().issuers, name);
  if (!value || !*value) {
    if (!value) log::Error("ca_cert_lookup_failed", {{"error", value.error().message}});
    Count(Outcome::kCaCertNotFound);
    return SendText(c, MHD_HTTP_NOT_FOUND, "text/plain", "CA certificate not registered yet\n");
  }
  std::span<const uint8_t> der = AsBytes(**value);
  Bytes digest = Sha256(der);
  // A certificate never changes under its name: cacheable for max_age, revalidated by ETag;
  // Last-Modified is its notBefore.
  Time now = pki::Now();
  Time not_before = now;
  if (auto cert = ossl::CertFromDer(der)) {
    if (auto t = pki::FromAsn1Time(X509_get0_notBefore(cert->get()))) not_before = *t;
  }
  return SendDocument(c, AsString(der), std::span<const uint8_t, 32>(digest.data(), 32),
                      "application/pkix-cert", not_before, now + config_.max_age, now,
                      Outcome::kCaCertOk, Outcome::kCaCertNotModified);
}

// A stored document with its caching headers, or 304 when If-None-Match names its ETag.
MHD_Result StatusServer::SendDocument(MHD_Connection* c, std::string_view body,
                                      std::span<const uint8_t, 32> sha256, const char* content_type,
                                      Time last_modified, Time expires, Time now, Outcome ok,
                                      Outcome not_modified) {
  char etag[40];
  FormatEtag(sha256, etag);
  MHD_Response* resp = nullptr;
  unsigned status = MHD_HTTP_OK;
  if (EtagMatches(c, etag)) {
    resp = MHD_create_response_from_buffer(0, nullptr, MHD_RESPMEM_PERSISTENT);
    status = MHD_HTTP_NOT_MODIFIED;
    Count(not_modified);
  } else {
    resp = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                           MHD_RESPMEM_MUST_COPY);
    Count(ok);
  }
  if (resp == nullptr) return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  AddCacheHeaders(resp, last_modified, expires, etag, now, config_.max_age);
  return Send(c, status, resp);
}

// Freshness of the responses (snapshot) and of the CRLs (read now); or an error.
Result<std::pair<std::shared_ptr<const FreshnessSnapshot>, std::vector<IssuerCrl>>>
StatusServer::Freshness() {
  std::shared_ptr<const FreshnessSnapshot> snapshot = monitor_->Latest();
  if (snapshot->error) return std::unexpected(*snapshot->error);
  ReadScope txn(reader_.env());
  if (!txn.ok()) return Fail(ErrorCode::kIo, "status store unreadable");
  auto crls = CA_TRY(ReadCrls(txn.get(), reader_.dbs(), config_.issuers));
  return std::pair{std::move(snapshot), std::move(crls)};
}

MHD_Result StatusServer::ServeHealth(MHD_Connection* c) {
  Time now = pki::Now();
  auto fresh = Freshness();
  if (!fresh) {
    Count(Outcome::kHealthUnavailable);
    nlohmann::json j{{"status", "error"}, {"error", fresh.error().ToString()}};
    return SendText(c, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", j.dump() + "\n");
  }
  const auto& [snapshot, crls] = *fresh;
  nlohmann::json stale_responses = nlohmann::json::array(), stale_crls = nlohmann::json::array(),
                 missing = nlohmann::json::array();
  size_t stale_count = 0;
  for (size_t i = 0; i < config_.issuers.size(); ++i) {
    const std::string& name = config_.issuers[i];
    const IssuerCrl& f = crls[i];
    if (!f.registered) missing.push_back({{"issuer", name}, {"what", "issuer not registered"}});
    AddCrlHealth(name, f, config_.CrlShardsOf(name), now, stale_crls, missing);
    const IssuerResponses& r = snapshot->issuers[i];
    stale_count += r.stale;
    for (const std::string& s : r.stale_serials)
      stale_responses.push_back({{"issuer", name}, {"serial", s}});
  }
  bool healthy = stale_count == 0 && stale_crls.empty() && missing.empty();
  nlohmann::json j{{"status", healthy ? "ok" : "unhealthy"},
                   {"responses_checked_at", snapshot->at.time_since_epoch().count()}};
  if (!healthy) {
    j["stale_responses"] = stale_responses;
    j["stale_response_count"] = stale_count;
    j["stale_crls"] = stale_crls;
    j["missing"] = missing;
  }
  Count(healthy ? Outcome::kHealthOk : Outcome::kHealthUnavailable);
  return SendText(c, healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "application/json",
                  j.dump() + "\n");
}

MHD_Result StatusServer::ServeMetrics(MHD_Connection* c) {
  Count(Outcome::kMetrics);
  Time now = pki::Now();
  std::string out;
  out += "# HELP ca_status_requests_total Requests by endpoint and result.\n";
  out += "# TYPE ca_status_requests_total counter\n";
  for (size_t i = 0; i < kOutcomeLabels.size(); ++i) {
    out += "ca_status_requests_total{endpoint=\"" + std::string(kOutcomeLabels[i].first) +
           "\",result=\"" + kOutcomeLabels[i].second + "\"} " +
           std::to_string(counters_[i].load(std::memory_order_relaxed)) + "\n";
  }
  MonitorStats stats = monitor_->Stats();
  out += "# HELP ca_status_freshness_passes_total Background passes over the stored responses.\n";
  out += "# TYPE ca_status_freshness_passes_total counter\n";
  out += "ca_status_freshness_passes_total " + std::to_string(stats.passes) + "\n";
  out += "# HELP ca_status_freshness_responses_walked_total Responses read by those passes.\n";
  out += "# TYPE ca_status_freshness_responses_walked_total counter\n";
  out +=
      "ca_status_freshness_responses_walked_total " + std::to_string(stats.responses_walked) + "\n";
  auto fresh = Freshness();
  if (fresh) {
    const auto& [snapshot, crls] = *fresh;
    const auto& r = snapshot->issuers;
    out += "# HELP ca_status_freshness_age_seconds Age of the last pass over the responses.\n";
    out += "# TYPE ca_status_freshness_age_seconds gauge\n";
    out += "ca_status_freshness_age_seconds " + std::to_string((now - snapshot->at).count()) + "\n";
    Gauge(out, "ca_ocsp_oldest_response_age_seconds",
          "Age of the oldest response of an unexpired certificate.", config_.issuers,
          [&](size_t i) -> long long {
            return r[i].oldest_this_update ? (now - *r[i].oldest_this_update).count() : 0;
          });
    Gauge(out, "ca_ocsp_responses", nullptr, config_.issuers,
          [&](size_t i) { return r[i].responses; });
    Gauge(out, "ca_ocsp_stale_responses", nullptr, config_.issuers,
          [&](size_t i) { return r[i].stale; });
    AppendCrlMetrics(out, config_, crls, now);
  }
  return SendText(c, MHD_HTTP_OK, "text/plain; version=0.0.4", out);
}

}  // namespace ca::crl_ocsp::server
