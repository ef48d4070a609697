#include "crl_ocsp/mirror/http_fetch.h"

#include <curl/curl.h>

#include <mutex>

namespace ca::crl_ocsp::mirror {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// What the callbacks fill in during one transfer.
struct Transfer {
  size_t max_bytes = 0;
  bool too_large = false;
  Bytes body;
  std::string etag;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (t->body.size() + n > t->max_bytes) {
    t->too_large = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  t->body.insert(t->body.end(), data, data + n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) t->etag.clear();  // a new response (after a 100 Continue)
  if (line.size() > 5 && AsciiLower(line.substr(0, 5)) == "etag:") {
    std::string_view v = line.substr(5);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' '))
      v.remove_suffix(1);
    t->etag = std::string(v.substr(0, 256));
  }
  return n;
}

bool IsUnreservedOrSlash(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '~' || c == '-' || c == '/';
}

}  // namespace

struct HttpFetcher::Handle {
  FetchOptions options;
  CurlPtr curl;
};

HttpFetcher::HttpFetcher(std::unique_ptr<Handle> handle) : handle_(std::move(handle)) {}
HttpFetcher::~HttpFetcher() = default;
HttpFetcher::HttpFetcher(HttpFetcher&&) noexcept = default;
HttpFetcher& HttpFetcher::operator=(HttpFetcher&&) noexcept = default;

Result<HttpFetcher> HttpFetcher::Create(FetchOptions options) {
  GlobalInitOnce();
  CurlPtr curl(curl_easy_init());
  if (!curl) return Fail(ErrorCode::kResourceExhausted, "curl_easy_init failed");
  return HttpFetcher(std::make_unique<Handle>(Handle{std::move(options), std::move(curl)}));
}

Result<FetchResult> HttpFetcher::Get(const std::string& url, size_t max_bytes,
                                     std::string_view if_none_match) {
  CURL* c = handle_->curl.get();
  curl_easy_reset(c);  // keeps the connection cache, forgets the last request's options
  Transfer transfer;
  transfer.max_bytes = max_bytes;
  SlistPtr headers;
  std::string condition;
  if (!if_none_match.empty()) {
    condition = "If-None-Match: " + std::string(if_none_match);
    headers.reset(curl_slist_append(nullptr, condition.c_str()));
    if (!headers) return Fail(ErrorCode::kResourceExhausted, "curl_slist_append failed");
  }
  char error[CURL_ERROR_SIZE] = {0};
  const FetchOptions& o = handle_->options;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!o.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, o.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o.connect_timeout_seconds);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, o.transfer_timeout_seconds);
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(max_bytes));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  CURLcode rc = curl_easy_perform(c);
  if (transfer.too_large || rc == CURLE_FILESIZE_EXCEEDED)
    return Fail(ErrorCode::kResourceExhausted,
                url + ": larger than the limit of " + std::to_string(max_bytes) + " bytes");
  if (rc != CURLE_OK)
    return Fail(ErrorCode::kUnavailable, url + ": " + (error[0] ? error : curl_easy_strerror(rc)));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  FetchResult out;
  if (status == 304 && !if_none_match.empty()) {
    out.not_modified = true;
    return out;
  }
  if (status != 200 && !(status == 0 && url.starts_with("file:")))
    return Fail(ErrorCode::kUnavailable, url + ": HTTP status " + std::to_string(status));
  out.body = std::move(transfer.body);
  out.etag = std::move(transfer.etag);
  return out;
}

std::string JoinUrl(std::string_view base, std::string_view path) {
  std::string url(base);
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += '/';
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : path) {
    if (IsUnreservedOrSlash(c)) {
      url += static_cast<char>(c);
    } else {
      url += '%';
      url += kHex[c >> 4];
      url += kHex[c & 15];
    }
  }
  return url;
}

}  // namespace ca::crl_ocsp::mirror
