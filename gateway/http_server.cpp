#include "gateway/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>

#include "common/log.h"

namespace ca::gateway {

struct HttpServer::State {
  AcmeServer* acme = nullptr;
  std::string cert_pem, key_pem;  // libmicrohttpd keeps pointers to these
  std::unique_ptr<WorkQueue> workers;  // ACME POSTs run here; null: on libmicrohttpd's threads
};

namespace {

struct Pending {
  std::string body;
  bool too_large = false;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::optional<HttpResponse> response;  // made by a worker while the connection is suspended
};

MHD_Result Send(MHD_Connection* connection, const HttpResponse& r) {
  MHD_Response* response =
      MHD_create_response_from_buffer(r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  for (const auto& [name, value] : r.headers) MHD_add_response_header(response, name.c_str(), value.c_str());
  MHD_Result ret = MHD_queue_response(connection, static_cast<unsigned>(r.status), response);
  MHD_destroy_response(response);
  return ret;
}

// Handles one complete request and writes its log line. Never throws (it may run on a worker).
HttpResponse Respond(AcmeServer& acme, const HttpRequest& request, std::chrono::steady_clock::time_point started) {
  HttpResponse response;
  try {
    if (request.path == "/metrics") {
      if (request.method == "GET") {
        response.status = 200;
        response.body = acme.MetricsText();
        response.headers.push_back({"Content-Type", "text/plain; version=0.0.4"});
      } else {
        response.status = 405;
        response.headers.push_back({"Allow", "GET"});
      }
      response.endpoint = "metrics";
    } else {
      response = acme.Handle(request);
    }
    auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
    if (response.endpoint != "metrics") {
      nlohmann::json fields = response.log_fields;
      fields["method"] = request.method;
      fields["endpoint"] = response.endpoint;
      fields["status"] = response.status;
      fields["duration_ms"] = static_cast<double>(elapsed.count()) / 1000.0;
      log::Info("acme_request", fields);
    }
  } catch (const std::exception& e) {
    log::Error("request_failed", {{"path", request.path}, {"error", e.what()}});
    response = HttpResponse{};
    response.status = 500;
  }
  return response;
}

MHD_Result Handler(void* cls, MHD_Connection* connection, const char* url, const char* method,
                   const char* /*version*/, const char* upload_data, size_t* upload_size, void** con_cls) {
  auto* state = static_cast<HttpServer::State*>(cls);
  AcmeServer& acme = *state->acme;
  if (*con_cls == nullptr) {
    *con_cls = new Pending();
    return MHD_YES;
  }
  auto* pending = static_cast<Pending*>(*con_cls);
  if (pending->response) return Send(connection, *pending->response);  // resumed
  if (*upload_size > 0) {
    if (!pending->too_large) {
      if (pending->body.size() + *upload_size > acme.options().max_body_bytes) {
        pending->too_large = true;
        pending->body.clear();
      } else {
        pending->body.append(upload_data, *upload_size);
      }
    }
    *upload_size = 0;
    return MHD_YES;
  }
  HttpRequest request;
  request.method = method;
  request.path = url;
  const char* ct = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  request.content_type = ct ? ct : "";
  request.body = std::move(pending->body);
  request.body_too_large = pending->too_large;

  const bool off_thread = state->workers && request.method == "POST";
  if (!off_thread) return Send(connection, Respond(acme, request, pending->started));
  // Off libmicrohttpd's thread: suspended until the worker has the response, then sent by the call
  // that follows MHD_resume_connection. The connection (and `pending`) live while suspended.
  MHD_suspend_connection(connection);
  auto job = [&acme, connection, pending, request = std::move(request)] {
    pending->response = Respond(acme, request, pending->started);
    MHD_resume_connection(connection);
  };
  if (!state->workers->Submit(job)) job();  // shutting down: answer from here
  return MHD_YES;
}

void Completed(void* /*cls*/, MHD_Connection* /*connection*/, void** con_cls, MHD_RequestTerminationCode) {
  delete static_cast<Pending*>(*con_cls);
  *con_cls = nullptr;
}

}  // namespace

Result<HttpServer> HttpServer::Start(const HttpServerOptions& options, AcmeServer& acme) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  if (inet_pton(AF_INET, options.listen_address.c_str(), &addr.sin_addr) != 1)
    return Fail(ErrorCode::kInvalidArgument, "listen address must be an IPv4 address: " + options.listen_address);
  if (options.tls_cert_pem.empty() || options.tls_key_pem.empty())
    return Fail(ErrorCode::kInvalidArgument, "HTTPS needs a TLS certificate and key");
  auto state = std::make_unique<State>();
  state->acme = &acme;
  state->cert_pem = options.tls_cert_pem;
  state->key_pem = options.tls_key_pem;
  unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
  if (options.request_workers > 0) {
    flags |= MHD_ALLOW_SUSPEND_RESUME;
    state->workers = std::make_unique<WorkQueue>(options.request_workers);
  }
  MHD_Daemon* daemon = MHD_start_daemon(
      flags, options.port, nullptr, nullptr, &Handler, state.get(),
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&addr),
      MHD_OPTION_HTTPS_MEM_KEY, state->key_pem.c_str(),
      MHD_OPTION_HTTPS_MEM_CERT, state->cert_pem.c_str(),
      MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned>(options.threads),
      MHD_OPTION_CONNECTION_TIMEOUT, options.connection_timeout_seconds,
      MHD_OPTION_CONNECTION_LIMIT, 1000u,
      MHD_OPTION_NOTIFY_COMPLETED, &Completed, nullptr,
      MHD_OPTION_END);
  if (daemon == nullptr)
    return Fail(ErrorCode::kIo, "cannot start HTTPS server on " + options.listen_address + ":" +
                                    std::to_string(options.port) + " (port in use, or bad TLS key/certificate)");
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
  uint16_t port = info ? info->port : options.port;
  return HttpServer(daemon, state.release(), port);
}

HttpServer::HttpServer(HttpServer&& other) noexcept
    : daemon_(std::exchange(other.daemon_, nullptr)), state_(std::exchange(other.state_, nullptr)), port_(other.port_) {}

HttpServer::~HttpServer() {
  // Every suspended connection is resumed before the daemon stops (libmicrohttpd requires it):
  // the workers finish what they hold; a request arriving meanwhile is answered on its own thread.
  if (state_ != nullptr && state_->workers) state_->workers->Stop();
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
  delete state_;
}

}  // namespace ca::gateway
