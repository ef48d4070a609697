// libmicrohttpd front end: HTTPS (GnuTLS inside libmicrohttpd) on one address, a bounded request
// body, and one JSON log line per request. Everything ACME happens in AcmeServer::Handle.
// Against connection exhaustion (a LAN host holding connections open with trickled bytes): a global
// and a per-source connection limit, and a deadline for each complete request (TLS handshake,
// headers and body) that inactivity timeouts alone do not give.
// MetricsServer: GET /metrics in plain HTTP on its own listener (loopback by default), never on the
// ACME port.
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
  unsigned connection_timeout_seconds = 30;  // inactivity
  // 0: sized to the process's file descriptor limit (MaxConnectionsFor).
  unsigned max_connections = 0;
  unsigned max_connections_per_ip = 64;  // 0: no per-source limit
  // A connection must deliver a complete request (from accept, TLS handshake included, or from the
  // end of its previous response) within this time, or it is closed.
  unsigned request_deadline_seconds = 10;
};

// The global connection limit for a file descriptor limit: what is left after a reserve for the
// stores, the engine channel and validation sockets, capped so that the worst case stays within
// memory (each TLS connection can hold ~50 KiB).
unsigned MaxConnectionsFor(uint64_t fd_limit);

class HttpServer {
 public:
  static Result<HttpServer> Start(const HttpServerOptions& options, AcmeServer& acme);
  HttpServer(HttpServer&& other) noexcept;
  HttpServer& operator=(HttpServer&&) = delete;
  HttpServer(const HttpServer&) = delete;
  ~HttpServer();

  uint16_t port() const { return port_; }
  unsigned max_connections() const;

  struct State;  // what the libmicrohttpd callbacks see

 private:
  HttpServer(MHD_Daemon* daemon, State* state, uint16_t port)
      : daemon_(daemon), state_(state), port_(port) {}
  MHD_Daemon* daemon_ = nullptr;
  State* state_ = nullptr;
  uint16_t port_ = 0;
};

struct MetricsListenOptions {
  bool enabled = true;
  std::string address = "127.0.0.1";
  uint16_t port = 9180;  // 0: pick a free port (see MetricsServer::port())
};

// Plain HTTP, one thread, a few connections: meant for a local scraper (node_exporter's host, a
// Prometheus agent) or a management network the operator chooses.
class MetricsServer {
 public:
  static Result<MetricsServer> Start(const MetricsListenOptions& options, const AcmeServer& acme);
  MetricsServer(MetricsServer&& other) noexcept;
  MetricsServer& operator=(MetricsServer&&) = delete;
  MetricsServer(const MetricsServer&) = delete;
  ~MetricsServer();

  uint16_t port() const { return port_; }

 private:
  MetricsServer(MHD_Daemon* daemon, uint16_t port) : daemon_(daemon), port_(port) {}
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
};

}  // namespace ca::gateway
