// GETs from the origin with libcurl: bounded body size, connect and transfer timeouts, no
// redirects, conditional GET (If-None-Match) for the manifest. One handle per fetcher so that
// passes reuse the connection to the origin (HTTP keep-alive).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/result.h"

namespace ca::crl_ocsp::mirror {

struct FetchOptions {
  long connect_timeout_seconds = 5;
  long transfer_timeout_seconds = 60;
  std::string ca_file;  // PEM bundle for an https:// origin; empty: the system store
};

struct FetchResult {
  bool not_modified = false;  // HTTP 304 for an If-None-Match
  Bytes body;
  std::string etag;  // the response's ETag, "" if none
};

class HttpFetcher {
 public:
  // http://, https:// and file:// (an export on a shared or synced file system) URLs only.
  static Result<HttpFetcher> Create(FetchOptions options);
  ~HttpFetcher();
  HttpFetcher(HttpFetcher&&) noexcept;
  HttpFetcher& operator=(HttpFetcher&&) noexcept;

  // kUnavailable: no connection, timeout, HTTP status other than 200 (or 304); kResourceExhausted:
  // the body is longer than max_bytes (the transfer stops there).
  Result<FetchResult> Get(const std::string& url, size_t max_bytes,
                          std::string_view if_none_match = {});

 private:
  struct Handle;
  explicit HttpFetcher(std::unique_ptr<Handle> handle);
  std::unique_ptr<Handle> handle_;
};

// "<base>/<path>" with every byte outside [A-Za-z0-9._~/-] percent-encoded ('+' and '=' of base64
// OCSP paths included: the server decodes them back to the file's name).
std::string JoinUrl(std::string_view base, std::string_view path);

}  // namespace ca::crl_ocsp::mirror
