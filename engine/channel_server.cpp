#include "engine/channel_server.h"

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
      return Fail(ErrorCode::kAlreadyExists, "socket_path exists and is not a socket: " + opt.socket_path);
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
  if (opt.socket_group && ::chown(opt.socket_path.c_str(), static_cast<uid_t>(-1), *opt.socket_group) != 0) {
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
  server->accept_thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  log::Info("channel_listening", {{"socket", opt.socket_path}});
  return server;
}

ChannelServer::~ChannelServer() { Stop(); }

void ChannelServer::Stop() {
  if (stopping_.exchange(true)) return;
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  if (accept_thread_.joinable()) accept_thread_.join();
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
    pollfd p{listen_fd_, POLLIN, 0};
    int prc = ::poll(&p, 1, 200);
    if (stopping_) break;
    if (prc <= 0) continue;
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
      log::Warn("channel_refused", {{"reason", "peer uid not allowed"}, {"uid", cred.uid}, {"pid", cred.pid}});
      ::close(fd);
      continue;
    }
    {
      std::lock_guard lock(mu_);
      if (live_fds_.size() >= options_.max_connections) {
        log::Warn("channel_refused", {{"reason", "too many connections"}, {"uid", cred.uid}});
        ::close(fd);
        continue;
      }
      live_fds_.insert(fd);
    }
    PeerInfo peer{cred.pid, cred.uid, ""};
    std::thread([this, fd, peer] { Serve(fd, peer); }).detach();
  }
}

void ChannelServer::Serve(int fd, PeerInfo peer) {
  auto done = [&] {
    std::lock_guard lock(mu_);
    live_fds_.erase(fd);
    cv_.notify_all();
  };
  auto conn = engine::api::TlsConnection::Accept(fd, ctx_.get(), options_.handshake_timeout_ms);
  if (!conn) {  // Accept closed the fd
    ++counters_.handshake_failed;
    log::Warn("channel_refused", {{"reason", conn.error().message}, {"uid", peer.uid}, {"pid", peer.pid}});
    done();
    return;
  }
  ++counters_.accepted;
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
