#include "dashboard/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>

#include "common/log.h"

namespace ca::dashboard {

struct HttpServer::State {
  HttpHandler handler;
  std::string cert_pem, key_pem;
  MHD_Daemon* daemon = nullptr;
};

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Per connection: the request being received (headers first, then the body in pieces).
struct Pending {
  HttpRequest request;
  bool too_big = false;
};

MHD_Result CollectHeader(void* cls, MHD_ValueKind /*kind*/, const char* key, const char* value) {
  static_cast<HttpRequest*>(cls)->headers[Lower(key)] = value != nullptr ? value : "";
  return MHD_YES;
}

MHD_Result CollectArgument(void* cls, MHD_ValueKind /*kind*/, const char* key, const char* value) {
  static_cast<HttpRequest*>(cls)->query[key] = value != nullptr ? value : "";
  return MHD_YES;
}

std::string PeerAddress(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr) return "";
  char buf[INET6_ADDRSTRLEN] = {};
  const sockaddr* sa = info->client_addr;
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof(buf));
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

MHD_Result Send(MHD_Connection* c, const HttpResponse& r) {
  MHD_Response* resp = MHD_create_response_from_buffer(
      r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY);
  if (resp == nullptr) return MHD_NO;
  for (const auto& [name, value] : r.headers) {
    MHD_add_response_header(resp, name.c_str(), value.c_str());
  }
  MHD_Result ret = MHD_queue_response(c, r.status, resp);
  MHD_destroy_response(resp);
  return ret;
}

MHD_Result Handle(void* cls, MHD_Connection* c, const char* url, const char* method,
                  const char* /*version*/, const char* upload_data, size_t* upload_data_size,
                  void** con_cls) {
  auto* state = static_cast<HttpServer::State*>(cls);
  auto* pending = static_cast<Pending*>(*con_cls);
  if (pending == nullptr) {  // headers in; the body (if any) follows in later calls
    pending = new Pending;
    pending->request.method = method;
    pending->request.path = url;
    pending->request.peer = PeerAddress(c);
    MHD_get_connection_values(c, MHD_HEADER_KIND, &CollectHeader, &pending->request);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, &CollectArgument, &pending->request);
    *con_cls = pending;
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    size_t room = kMaxBodyBytes - pending->request.body.size();
    if (*upload_data_size > room) pending->too_big = true;
    pending->request.body.append(upload_data, std::min(room, *upload_data_size));
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (pending->too_big) {
    return Send(c, HttpResponse{413, {{"Content-Type", "text/plain"}}, "request too large\n"});
  }
  HttpResponse response;
  try {
    response = state->handler(pending->request);
  } catch (const std::exception& e) {  // never across the C callback
    log::Error("dashboard_handler_failed", {{"error", e.what()}});
    response = HttpResponse{500, {{"Content-Type", "text/plain"}}, "internal error\n"};
  }
  return Send(c, response);
}

void Completed(void* /*cls*/, MHD_Connection* /*c*/, void** con_cls,
               MHD_RequestTerminationCode /*toe*/) {
  delete static_cast<Pending*>(*con_cls);
  *con_cls = nullptr;
}

}  // namespace

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

std::string HttpRequest::Query(const std::string& name) const {
  auto it = query.find(name);
  return it == query.end() ? "" : it->second;
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpHandler handler) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  if (inet_pton(AF_INET, options.address.c_str(), &addr.sin_addr) != 1) {
    return Fail(ErrorCode::kInvalidArgument,
                "listen address must be an IPv4 address: " + options.address);
  }
  if (options.tls_cert_pem.empty() || options.tls_key_pem.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "HTTPS needs a TLS certificate and key");
  }
  std::unique_ptr<HttpServer> server(new HttpServer);
  server->state_ = std::make_unique<State>();
  State& s = *server->state_;
  s.handler = std::move(handler);
  s.cert_pem = options.tls_cert_pem;
  s.key_pem = options.tls_key_pem;
  s.daemon = MHD_start_daemon(
      MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, options.port, nullptr,
      nullptr, &Handle, &s, MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&addr),
      MHD_OPTION_HTTPS_MEM_KEY, s.key_pem.c_str(), MHD_OPTION_HTTPS_MEM_CERT, s.cert_pem.c_str(),
      MHD_OPTION_THREAD_POOL_SIZE, options.threads, MHD_OPTION_CONNECTION_TIMEOUT,
      options.connection_timeout_seconds, MHD_OPTION_CONNECTION_LIMIT, 512u,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, 64u, MHD_OPTION_NOTIFY_COMPLETED, &Completed, nullptr,
      MHD_OPTION_END);
  if (s.daemon == nullptr) {
    return Fail(ErrorCode::kIo, "cannot start HTTPS server on " + options.address + ":" +
                                    std::to_string(options.port) +
                                    " (port in use, or bad TLS key/certificate)");
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(s.daemon, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info != nullptr ? info->port : options.port;
  return server;
}

HttpServer::~HttpServer() {
  if (state_ && state_->daemon != nullptr) MHD_stop_daemon(state_->daemon);
}

}  // namespace ca::dashboard
