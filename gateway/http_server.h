// libmicrohttpd front end: HTTPS (GnuTLS inside libmicrohttpd) on one address, a bounded request
// body, and one JSON log line per request. Everything ACME happens in AcmeServer::Handle.
#pragma once

#include <microhttpd.h>

#include <cstdint>
#include <string>

#include "common/result.h"
#include "gateway/acme_server.h"
#include "gateway/work_queue.h"

namespace ca::gateway {

struct HttpServerOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 14000;  // 0: pick a free port (see HttpServer::port())
  std::string tls_cert_pem;
  std::string tls_key_pem;
  unsigned threads = 2;  // libmicrohttpd polling threads (each owns its connections)
  // Threads that run ACME POSTs (which wait for durable commits and, in finalize, for the engine)
  // while their connection is suspended; 0 runs them on the polling threads.
  unsigned request_workers = 32;
  unsigned connection_timeout_seconds = 30;
};

class HttpServer {
 public:
  static Result<HttpServer> Start(const HttpServerOptions& options, AcmeServer& acme);
  HttpServer(HttpServer&& other) noexcept;
  HttpServer& operator=(HttpServer&&) = delete;
  HttpServer(const HttpServer&) = delete;
  ~HttpServer();

  uint16_t port() const { return port_; }

  struct State;  // what the libmicrohttpd callbacks see

 private:
  HttpServer(MHD_Daemon* daemon, State* state, uint16_t port) : daemon_(daemon), state_(state), port_(port) {}
  MHD_Daemon* daemon_ = nullptr;
  State* state_ = nullptr;
  uint16_t port_ = 0;
};

}  // namespace ca::gateway
