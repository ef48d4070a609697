// A small HTTPS server on libmicrohttpd for the dashboard: one handler function gets a complete
// request (headers, query, a bounded body, the peer's address) and returns a complete response.
// (The gateway and the status server have their own, tuned for ACME and OCSP; this one is only
// what a page for people needs.)
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace ca::dashboard {

struct HttpRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;    // decoded GET arguments
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // at most kMaxBodyBytes
  std::string peer;                            // the client's IP address
  std::string Header(const std::string& lower_name) const;
  std::string Query(const std::string& name) const;
};

struct HttpResponse {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

inline constexpr size_t kMaxBodyBytes = 4096;

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port
  std::string tls_cert_pem, tls_key_pem;
  unsigned threads = 2;
  unsigned connection_timeout_seconds = 30;
};

class HttpServer {
 public:
  // Starts listening at once; the handler runs on libmicrohttpd's threads and must not throw.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  uint16_t port() const { return port_; }

  struct State;

 private:
  HttpServer() = default;
  std::unique_ptr<State> state_;
  uint16_t port_ = 0;
};

}  // namespace ca::dashboard
