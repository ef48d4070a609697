#include "gateway/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include "common/log.h"

namespace ca::gateway {

namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Closes connections that have not delivered a complete request in time. libmicrohttpd only knows
// inactivity timeouts, so a client sending one byte every few seconds would hold its connection
// (and a slot of the global limit) forever. A sweeper thread shuts down the socket of each late
// connection; libmicrohttpd then sees the end of the stream on its own thread and closes it.
class RequestDeadlines {
 public:
  struct Entry {
    int fd = -1;
    std::atomic<int64_t> deadline_ns{0};  // 0: a request is being handled, no deadline
    std::atomic<bool> idle{false};        // between a response and the next request (keep-alive)
    bool shut = false;                    // guarded by RequestDeadlines::mu_
  };

  // A new connection has `request_seconds` to deliver its first request; after each response a
  // kept-alive connection has `idle_seconds` (at least as long) to deliver the next one, so that
  // ordinary keep-alive reuse is not cut short while a trickling client is still bounded.
  RequestDeadlines(unsigned request_seconds, unsigned idle_seconds)
      : window_ns_(int64_t{request_seconds} * 1'000'000'000),
        idle_window_ns_(int64_t{std::max(request_seconds, idle_seconds)} * 1'000'000'000),
        sweeper_([this] { Run(); }) {}
  ~RequestDeadlines() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    sweeper_.join();
  }

  Entry* Opened(int fd) {
    auto entry = std::make_unique<Entry>();
    entry->fd = fd;
    entry->deadline_ns = NowNs() + window_ns_;
    std::lock_guard lock(mu_);
    return *entries_.insert(entry.release()).first;
  }
  // Called before libmicrohttpd closes the socket: after it the sweeper never touches the fd, which
  // the kernel may then give to another connection.
  void Closed(Entry* entry) {
    std::lock_guard lock(mu_);
    entries_.erase(entry);
    delete entry;
  }
  void RequestComplete(Entry* entry) {
    entry->idle = false;
    entry->deadline_ns = 0;
  }
  void Rearm(Entry* entry) {
    entry->idle = true;
    entry->deadline_ns = NowNs() + idle_window_ns_;
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stop_; })) {
      const int64_t now = NowNs();
      unsigned closed = 0;
      for (Entry* e : entries_) {
        const int64_t deadline = e->deadline_ns;
        if (e->shut || deadline == 0 || now < deadline) continue;
        ::shutdown(e->fd, SHUT_RDWR);
        e->shut = true;
        if (!e->idle) ++closed;  // an unused keep-alive connection is ordinary: not a warning
      }
      total_closed_ += closed;
      if (total_closed_ > logged_closed_ &&
          now - last_log_ns_ >= 10'000'000'000) {  // one line per 10 s at most
        log::Warn("connections_closed", {{"reason", "request_deadline"},
                                         {"count", total_closed_ - logged_closed_},
                                         {"open_connections", entries_.size()}});
        logged_closed_ = total_closed_;
        last_log_ns_ = now;
      }
    }
  }

  const int64_t window_ns_, idle_window_ns_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::unordered_set<Entry*> entries_;
  uint64_t total_closed_ = 0, logged_closed_ = 0;
  int64_t last_log_ns_ = 0;
  std::thread sweeper_;  // last: starts once the members above exist
};

// libmicrohttpd's error messages as log lines, at most 20 per 10 s: under a connection flood it
// writes one per dropped connection, which would drown the request log (and hit journald's rate
// limit).
class LibraryLog {
 public:
  static void Write(void* cls, const char* format, va_list args) {
    char text[512];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    std::vsnprintf(text, sizeof text, format, args);
#pragma GCC diagnostic pop
    std::string_view message(text);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.remove_suffix(1);
    static_cast<LibraryLog*>(cls)->Emit(message);
  }

 private:
  void Emit(std::string_view message) {
    std::lock_guard lock(mu_);
    const int64_t now = NowNs();
    if (now - window_start_ns_ >= 10'000'000'000) {
      if (suppressed_ > 0) log::Warn("http_library_messages_suppressed", {{"count", suppressed_}});
      window_start_ns_ = now;
      in_window_ = suppressed_ = 0;
    }
    if (in_window_++ < 20)
      log::Warn("http_library", {{"message", message}});
    else
      ++suppressed_;
  }

  std::mutex mu_;
  int64_t window_start_ns_ = 0;
  uint64_t in_window_ = 0, suppressed_ = 0;
};

LibraryLog& TheLibraryLog() {
  static LibraryLog log;
  return log;
}

RequestDeadlines::Entry* EntryOf(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return info == nullptr ? nullptr : static_cast<RequestDeadlines::Entry*>(info->socket_context);
}

}  // namespace

struct HttpServer::State {
  AcmeServer* acme = nullptr;
  std::string cert_pem, key_pem;       // libmicrohttpd keeps pointers to these
  std::unique_ptr<WorkQueue> workers;  // ACME POSTs run here; null: on libmicrohttpd's threads
  std::unique_ptr<RequestDeadlines> deadlines;
  unsigned max_connections = 0;
};

namespace {

struct Pending {
  std::string body;
  bool too_large = false;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::optional<HttpResponse> response;  // made by a worker while the connection is suspended
};

MHD_Result Send(MHD_Connection* connection, const HttpResponse& r) {
  MHD_Response* response = MHD_create_response_from_buffer(
      r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  for (const auto& [name, value] : r.headers)
    MHD_add_response_header(response, name.c_str(), value.c_str());
  MHD_Result ret = MHD_queue_response(connection, static_cast<unsigned>(r.status), response);
  MHD_destroy_response(response);
  return ret;
}

// Handles one complete request and writes its log line. Never throws (it may run on a worker).
HttpResponse Respond(AcmeServer& acme, const HttpRequest& request,
                     std::chrono::steady_clock::time_point started) {
  HttpResponse response;
  try {
    response = acme.Handle(request);
    auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    nlohmann::json fields = response.log_fields;
    fields["method"] = request.method;
    fields["endpoint"] = response.endpoint;
    fields["status"] = response.status;
    fields["duration_ms"] = static_cast<double>(elapsed.count()) / 1000.0;
    log::Info("acme_request", fields);
  } catch (const std::exception& e) {
    log::Error("request_failed", {{"path", request.path}, {"error", e.what()}});
    response = HttpResponse{};
    response.status = 500;
  }
  return response;
}

// The POSTs that read (POST-as-GET of an order, an authorization or a certificate: most of a
// client's polling) run on libmicrohttpd's thread: they take no write lock and wait for no engine,
// and the hand-off to a worker and back (suspend, queue, wake-ups, resume) cost more than they do.
// Their rare writes (an authorization's deactivation, an order's expiry) wait for one group
// commit on that thread. Everything else that may write or wait goes to the workers.
bool RunsInline(std::string_view path) {
  if (path.starts_with("/acme/cert/") || path.starts_with("/acme/authz/")) return true;
  return path.starts_with("/acme/order/") && !path.ends_with("/finalize");
}

MHD_Result Handler(void* cls, MHD_Connection* connection, const char* url, const char* method,
                   const char* /*version*/, const char* upload_data, size_t* upload_size,
                   void** con_cls) {
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
  // The request is complete: its deadline no longer applies (a finalize may wait for the engine).
  if (state->deadlines) {
    if (auto* entry = EntryOf(connection)) state->deadlines->RequestComplete(entry);
  }
  HttpRequest request;
  request.method = method;
  request.path = url;
  const char* ct =
      MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  request.content_type = ct ? ct : "";
  request.body = std::move(pending->body);
  request.body_too_large = pending->too_large;

  const bool off_thread = state->workers && request.method == "POST" && !RunsInline(request.path);
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

void Completed(void* cls, MHD_Connection* connection, void** con_cls, MHD_RequestTerminationCode) {
  delete static_cast<Pending*>(*con_cls);
  *con_cls = nullptr;
  // A kept-alive connection has the same time for its next request.
  auto* state = static_cast<HttpServer::State*>(cls);
  if (state->deadlines) {
    if (auto* entry = EntryOf(connection)) state->deadlines->Rearm(entry);
  }
}

void ConnectionEvent(void* cls, MHD_Connection* connection, void** socket_context,
                     MHD_ConnectionNotificationCode code) {
  auto* deadlines = static_cast<RequestDeadlines*>(cls);
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    *socket_context = info == nullptr ? nullptr : deadlines->Opened(info->connect_fd);
  } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context != nullptr) {
    deadlines->Closed(static_cast<RequestDeadlines::Entry*>(*socket_context));
    *socket_context = nullptr;
  }
}

}  // namespace

unsigned MaxConnectionsFor(uint64_t fd_limit) {
  constexpr uint64_t kReserve = 256, kFloor = 64, kCap = 8192;
  return static_cast<unsigned>(
      std::clamp(fd_limit > kReserve ? fd_limit - kReserve : 0, kFloor, kCap));
}

Result<HttpServer> HttpServer::Start(const HttpServerOptions& options, AcmeServer& acme) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  if (inet_pton(AF_INET, options.listen_address.c_str(), &addr.sin_addr) != 1)
    return Fail(ErrorCode::kInvalidArgument,
                "listen address must be an IPv4 address: " + options.listen_address);
  if (options.tls_cert_pem.empty() || options.tls_key_pem.empty())
    return Fail(ErrorCode::kInvalidArgument, "HTTPS needs a TLS certificate and key");
  if (options.request_deadline_seconds == 0)
    return Fail(ErrorCode::kInvalidArgument, "the request deadline must be at least 1 second");
  auto state = std::make_unique<State>();
  state->acme = &acme;
  state->cert_pem = options.tls_cert_pem;
  state->key_pem = options.tls_key_pem;
  state->max_connections = options.max_connections;
  if (state->max_connections == 0) {
    rlimit fds{};
    state->max_connections =
        MaxConnectionsFor(getrlimit(RLIMIT_NOFILE, &fds) == 0 ? fds.rlim_cur : 1024);
  }
  state->deadlines = std::make_unique<RequestDeadlines>(options.request_deadline_seconds,
                                                        options.connection_timeout_seconds);
  unsigned flags =
      MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
  if (options.request_workers > 0) {
    flags |= MHD_ALLOW_SUSPEND_RESUME;
    state->workers = std::make_unique<WorkQueue>(options.request_workers);
  }
  MHD_Daemon* daemon = MHD_start_daemon(
      flags, options.port, nullptr, nullptr, &Handler, state.get(), MHD_OPTION_EXTERNAL_LOGGER,
      &LibraryLog::Write, &TheLibraryLog(), MHD_OPTION_SOCK_ADDR,
      reinterpret_cast<sockaddr*>(&addr), MHD_OPTION_HTTPS_MEM_KEY, state->key_pem.c_str(),
      MHD_OPTION_HTTPS_MEM_CERT, state->cert_pem.c_str(), MHD_OPTION_THREAD_POOL_SIZE,
      static_cast<unsigned>(options.threads), MHD_OPTION_CONNECTION_TIMEOUT,
      options.connection_timeout_seconds, MHD_OPTION_CONNECTION_LIMIT, state->max_connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, options.max_connections_per_ip,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_NOTIFY_CONNECTION, &ConnectionEvent,
      state->deadlines.get(), MHD_OPTION_NOTIFY_COMPLETED, &Completed, state.get(), MHD_OPTION_END);
  if (daemon == nullptr)
    return Fail(ErrorCode::kIo, "cannot start HTTPS server on " + options.listen_address + ":" +
                                    std::to_string(options.port) +
                                    " (port in use, or bad TLS key/certificate)");
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
  uint16_t port = info ? info->port : options.port;
  return HttpServer(daemon, state.release(), port);
}

unsigned HttpServer::max_connections() const {
  return state_ == nullptr ? 0 : state_->max_connections;
}

HttpServer::HttpServer(HttpServer&& other) noexcept
    : daemon_(std::exchange(other.daemon_, nullptr)),
      state_(std::exchange(other.state_, nullptr)),
      port_(other.port_) {}

HttpServer::~HttpServer() {
  // Every suspended connection is resumed before the daemon stops (libmicrohttpd requires it):
  // the workers finish what they hold; a request arriving meanwhile is answered on its own thread.
  if (state_ != nullptr && state_->workers) state_->workers->Stop();
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
  delete state_;
}

// ---------------------------------------------------------------------------------- metrics
// listener

namespace {

MHD_Result MetricsHandler(void* cls, MHD_Connection* connection, const char* url,
                          const char* method, const char* /*version*/, const char* /*upload_data*/,
                          size_t* upload_size, void** con_cls) {
  if (*con_cls == nullptr) {  // headers in; a body, if any, is read and ignored
    *con_cls = connection;
    return MHD_YES;
  }
  if (*upload_size > 0) {
    *upload_size = 0;
    return MHD_YES;
  }
  const auto& acme = *static_cast<const AcmeServer*>(cls);
  const std::string_view path(url), verb(method);
  HttpResponse r;
  if (path != "/metrics") {
    r.status = 404;
    r.body = "not found: this listener serves /metrics only\n";
    r.headers.push_back({"Content-Type", "text/plain"});
  } else if (verb != "GET" && verb != "HEAD") {
    r.status = 405;
    r.headers.push_back({"Allow", "GET"});
  } else {
    r.status = 200;
    r.body = acme.MetricsText();
    r.headers.push_back({"Content-Type", "text/plain; version=0.0.4"});
  }
  return Send(connection, r);
}

}  // namespace

Result<MetricsServer> MetricsServer::Start(const MetricsListenOptions& options,
                                           const AcmeServer& acme) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  if (inet_pton(AF_INET, options.address.c_str(), &addr.sin_addr) != 1)
    return Fail(ErrorCode::kInvalidArgument,
                "metrics address must be an IPv4 address: " + options.address);
  MHD_Daemon* daemon = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, options.port, nullptr,
      nullptr, &MetricsHandler, const_cast<AcmeServer*>(&acme), MHD_OPTION_EXTERNAL_LOGGER,
      &LibraryLog::Write, &TheLibraryLog(), MHD_OPTION_SOCK_ADDR,
      reinterpret_cast<sockaddr*>(&addr), MHD_OPTION_CONNECTION_TIMEOUT, 10u,
      MHD_OPTION_CONNECTION_LIMIT, 32u, MHD_OPTION_END);
  if (daemon == nullptr)
    return Fail(ErrorCode::kIo, "cannot start the metrics listener on " + options.address + ":" +
                                    std::to_string(options.port) + " (port in use?)");
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
  return MetricsServer(daemon, info ? info->port : options.port);
}

MetricsServer::MetricsServer(MetricsServer&& other) noexcept
    : daemon_(std::exchange(other.daemon_, nullptr)), port_(other.port_) {}

MetricsServer::~MetricsServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

}  // namespace ca::gateway
