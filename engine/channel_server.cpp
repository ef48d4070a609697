#include "engine/channel_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/encoding.h"
#include "common/log.h"

namespace ca::engine {
namespace {

using engine::api::EngineError;
using engine::api::EngineErrorKind;
using engine::api::Response;

std::string ErrorFrame(EngineErrorKind kind, std::string detail) {
  return engine::api::ResponseToJson(Response(EngineError{kind, "", "", std::move(detail)})).dump();
}

}  // namespace

Result<std::unique_ptr<ChannelServer>> ChannelServer::Start(ChannelServerOptions options,
                                                            RequestHandler handler) {
  std::unique_ptr<ChannelServer> server(new ChannelServer(std::move(options), std::move(handler)));
  const auto& opt = server->options_;
  server->ctx_ = CA_TRY(engine::api::MakeChannelContext(opt.identity, /*server=*/true));

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (opt.socket_path.empty() || opt.socket_path.size() >= sizeof addr.sun_path) {
    return Fail(ErrorCode::kInvalidArgument, "socket_path: empty or too long");
  }
  std::memcpy(addr.sun_path, opt.socket_path.c_str(), opt.socket_path.size() + 1);
  struct stat st {};
  if (::lstat(opt.socket_path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Fail(ErrorCode::kAlreadyExists,
                  "socket_path exists and is not a socket: " + opt.socket_path);
    }
    ::unlink(opt.socket_path.c_str());  // stale socket of a previous run
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  // Created 0600 by the umask, then opened to the gateway's group: never briefly world-connectable.
  mode_t old_umask = ::umask(0177);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int bind_errno = errno;
  ::umask(old_umask);
  if (rc != 0) {
    ::close(fd);
    return Fail(ErrorCode::kIo, "bind " + opt.socket_path + ": " + std::strerror(bind_errno));
  }
  if (opt.socket_group &&
      ::chown(opt.socket_path.c_str(), static_cast<uid_t>(-1), *opt.socket_group) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(opt.socket_path.c_str());
    return Fail(ErrorCode::kPermissionDenied, "chgrp " + opt.socket_path + ": " + std::strerror(e));
  }
  if (::chmod(opt.socket_path.c_str(), 0660) != 0 || ::listen(fd, 128) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(opt.socket_path.c_str());
    return Fail(ErrorCode::kIo, "listen " + opt.socket_path + ": " + std::strerror(e));
  }
  server->listen_fd_ = fd;
  if (!opt.tcp_listen.empty()) {
    if (auto tcp = server->ListenTcp(); !tcp) {
      ::close(fd);
      ::unlink(opt.socket_path.c_str());
      server->listen_fd_ = -1;
      return std::unexpected(tcp.error());
    }
  }
  server->accept_thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  log::Info("channel_listening",
            {{"socket", opt.socket_path},
             {"tcp", opt.tcp_listen.empty() ? nlohmann::json(nullptr)
                                            : nlohmann::json(server->tcp_port_)}});
  return server;
}

Status ChannelServer::ListenTcp() {
  if (options_.tcp_client_fingerprints.empty())
    return Fail(ErrorCode::kInvalidArgument, "peer_listen: no pinned peer client certificate");
  tcp_ctx_ = CA_TRY(engine::api::MakeChannelContext(
      {options_.identity.cert_path, options_.identity.key_path, options_.tcp_client_fingerprints},
      /*server=*/true));
  auto hp = CA_TRY(engine::api::ParseHostPort(options_.tcp_listen, /*allow_port_zero=*/true));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int gai = ::getaddrinfo(hp.host.c_str(), std::to_string(hp.port).c_str(), &hints, &found);
  if (gai != 0)
    return Fail(ErrorCode::kInvalidArgument,
                "peer_listen " + options_.tcp_listen + ": " + ::gai_strerror(gai));
  ossl::Owned<addrinfo, ::freeaddrinfo> list(found);
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
    int e = errno;
    ::close(fd);
    return Fail(ErrorCode::kIo, "peer_listen " + options_.tcp_listen + ": " + std::strerror(e));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  tcp_port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  tcp_fd_ = fd;
  return Ok();
}

ChannelServer::~ChannelServer() {
  Stop();
}

void ChannelServer::Stop() {
  if (stopping_.exchange(true)) return;
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  if (tcp_fd_ >= 0) ::shutdown(tcp_fd_, SHUT_RDWR);
  if (accept_thread_.joinable()) accept_thread_.join();
  if (tcp_fd_ >= 0) {
    ::close(tcp_fd_);
    tcp_fd_ = -1;
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(options_.socket_path.c_str());
    listen_fd_ = -1;
  }
  std::unique_lock lock(mu_);
  for (int fd : live_fds_) ::shutdown(fd, SHUT_RDWR);
  cv_.wait(lock, [&] { return live_fds_.empty(); });
}

void ChannelServer::AcceptLoop() {
  while (!stopping_) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {tcp_fd_, POLLIN, 0}};
    int prc = ::poll(p, tcp_fd_ >= 0 ? 2 : 1, 200);
    if (stopping_) break;
    if (prc <= 0) continue;
    if (tcp_fd_ >= 0 && (p[1].revents & POLLIN) != 0) {
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      int fd = ::accept4(tcp_fd_, reinterpret_cast<sockaddr*>(&from), &from_len, SOCK_CLOEXEC);
      if (fd >= 0) {
        char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
        ::getnameinfo(reinterpret_cast<sockaddr*>(&from), from_len, host, sizeof host, port,
                      sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        // No SO_PEERCRED on TCP: the pinned client certificate (tcp_ctx_) is the authentication.
        Admit(fd, PeerInfo{0, static_cast<uid_t>(-1), "", std::string(host) + ":" + port},
              tcp_ctx_.get());
      } else if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED && !stopping_) {
        log::Error("channel_accept_failed", {{"error", std::strerror(errno)}, {"listener", "tcp"}});
      }
    }
    if ((p[0].revents & POLLIN) == 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      if (stopping_) break;
      log::Error("channel_accept_failed", {{"error", std::strerror(errno)}});
      continue;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      log::Warn("channel_refused", {{"reason", "SO_PEERCRED failed"}});
      ::close(fd);
      continue;
    }
    if (std::find(options_.allowed_uids.begin(), options_.allowed_uids.end(), cred.uid) ==
        options_.allowed_uids.end()) {
      ++counters_.wrong_uid;
      log::Warn("channel_refused",
                {{"reason", "peer uid not allowed"}, {"uid", cred.uid}, {"pid", cred.pid}});
      ::close(fd);
      continue;
    }
    Admit(fd, PeerInfo{cred.pid, cred.uid, "", ""}, ctx_.get());
  }
}

void ChannelServer::Admit(int fd, PeerInfo peer, SSL_CTX* ctx) {
  {
    std::lock_guard lock(mu_);
    const bool tcp = !peer.address.empty();
    if (live_fds_.size() >= options_.max_connections ||
        (tcp && live_tcp_ >= options_.max_tcp_connections)) {
      ++counters_.too_many;
      log::Warn("channel_refused",
                {{"reason", "too many connections"}, {"uid", peer.uid}, {"address", peer.address}});
      ::close(fd);
      return;
    }
    live_fds_.insert(fd);
    if (tcp) ++live_tcp_;
  }
  std::thread([this, fd, peer = std::move(peer), ctx] { Serve(fd, peer, ctx); }).detach();
}

void ChannelServer::Serve(int fd, PeerInfo peer, SSL_CTX* ctx) {
  auto done = [&] {
    std::lock_guard lock(mu_);
    live_fds_.erase(fd);
    if (!peer.address.empty()) --live_tcp_;
    cv_.notify_all();
  };
  auto conn = engine::api::TlsConnection::Accept(fd, ctx, options_.handshake_timeout_ms);
  if (!conn) {  // Accept closed the fd
    ++counters_.handshake_failed;
    log::Warn("channel_refused", {{"reason", conn.error().message},
                                  {"uid", peer.uid},
                                  {"pid", peer.pid},
                                  {"address", peer.address}});
    done();
    return;
  }
  ++counters_.accepted;
  if (!peer.address.empty()) {
    ++counters_.tcp_accepted;
    log::Info("channel_peer_connected", {{"address", peer.address}});
  }
  while (!stopping_) {
    auto frame = conn->ReadFrame(options_.max_frame_size);
    if (!frame) {
      if (frame.error().code == ErrorCode::kResourceExhausted) {
        ++counters_.oversized;
        log::Warn("channel_frame_refused", {{"reason", frame.error().message}, {"uid", peer.uid}});
        // The stream cannot be resynchronised: answer once, then close.
        (void)conn->WriteFrame(ErrorFrame(EngineErrorKind::kBadRequest, frame.error().message));
      } else if (frame.error().code != ErrorCode::kUnavailable) {
        log::Warn("channel_read_failed", {{"reason", frame.error().message}, {"uid", peer.uid}});
      }
      break;
    }
    nlohmann::json json = nlohmann::json::parse(*frame, nullptr, /*allow_exceptions=*/false);
    std::string answer;
    if (json.is_discarded()) {
      ++counters_.malformed;
      log::Warn("channel_frame_refused", {{"reason", "malformed JSON"}, {"uid", peer.uid}});
      answer = ErrorFrame(EngineErrorKind::kBadRequest, "malformed JSON frame");
    } else if (auto request = engine::api::RequestFromJson(json); !request) {
      ++counters_.malformed;
      log::Warn("channel_frame_refused", {{"reason", request.error().message}, {"uid", peer.uid}});
      answer = ErrorFrame(EngineErrorKind::kBadRequest, request.error().message);
    } else {
      answer = engine::api::ResponseToJson(handler_(*request, peer)).dump();
    }
    if (auto w = conn->WriteFrame(answer); !w) {
      log::Warn("channel_write_failed", {{"reason", w.error().message}, {"uid", peer.uid}});
      break;
    }
  }
  {
    // Destroying the connection closes the fd; do it before unregistering so Stop() never
    // shuts down a reused descriptor number.
    auto closing = std::move(*conn);
  }
  done();
}

}  // namespace ca::engine
