#include "gateway/validation/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/sigpipe.h"

namespace ca::gateway::validation {

namespace {

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

Result<SockAddr> MakeAddress(const std::string& ip, uint16_t port) {
  SockAddr out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.length = sizeof(sockaddr_in6);
  } else {
    return Fail(ErrorCode::kInvalidArgument, "'" + ip + "' is not an IP address");
  }
  return out;
}

std::string Errno(int err) {
  return std::strerror(err);
}

int RemainingMs(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 24 * 3600 * 1000));
}

}  // namespace

Result<Connection> Connection::Open(const std::string& ip, uint16_t port,
                                    const std::string& source_ip,
                                    std::chrono::milliseconds connect_timeout,
                                    Clock::time_point deadline) {
  SockAddr target = CA_TRY(MakeAddress(ip, port));
  Connection conn;
  conn.peer_ =
      (target.storage.ss_family == AF_INET6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
  conn.fd_ = socket(target.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (conn.fd_ < 0) return Fail(ErrorCode::kIo, "socket: " + Errno(errno));
  if (!source_ip.empty()) {
    SockAddr source = CA_TRY(MakeAddress(source_ip, 0));
    if (source.storage.ss_family != target.storage.ss_family) {
      return Fail(ErrorCode::kIo, "source address " + source_ip + " cannot reach " + conn.peer_ +
                                      " (address family)");
    }
    if (bind(conn.fd_, reinterpret_cast<sockaddr*>(&source.storage), source.length) != 0) {
      return Fail(ErrorCode::kIo, "bind to source address " + source_ip + ": " + Errno(errno));
    }
  }
  auto connect_deadline = std::min(deadline, Clock::now() + connect_timeout);
  if (connect(conn.fd_, reinterpret_cast<sockaddr*>(&target.storage), target.length) != 0) {
    if (errno != EINPROGRESS)
      return Fail(ErrorCode::kIo, "connect to " + conn.peer_ + ": " + Errno(errno));
    CA_TRY_STATUS(conn.WaitFor(POLLOUT, connect_deadline, "connect"));
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(conn.fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return Fail(ErrorCode::kIo, "connect to " + conn.peer_ + ": " + Errno(err));
  }
  return conn;
}

Connection::Connection(Connection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      peer_(std::move(other.peer_)),
      ctx_(std::move(other.ctx_)),
      ssl_(std::move(other.ssl_)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    ssl_.reset();
    ctx_.reset();
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    peer_ = std::move(other.peer_);
    ctx_ = std::move(other.ctx_);
    ssl_ = std::move(other.ssl_);
  }
  return *this;
}

Connection::~Connection() {
  ssl_.reset();
  if (fd_ >= 0) close(fd_);
}

Status Connection::WaitFor(short events, Clock::time_point deadline, std::string_view what) {
  while (true) {
    int timeout = RemainingMs(deadline);
    if (timeout == 0)
      return Fail(ErrorCode::kIo, "timeout (" + std::string(what) + ") talking to " + peer_);
    pollfd pfd{fd_, events, 0};
    int n = poll(&pfd, 1, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrorCode::kIo, "poll: " + Errno(errno));
    }
    if (n == 0)
      return Fail(ErrorCode::kIo, "timeout (" + std::string(what) + ") talking to " + peer_);
    return Ok();  // readable/writable or error: the next call reports the error
  }
}

Status Connection::SslWait(int ssl_result, Clock::time_point deadline, std::string_view what) {
  int err = SSL_get_error(ssl_.get(), ssl_result);
  if (err == SSL_ERROR_WANT_READ) return WaitFor(POLLIN, deadline, what);
  if (err == SSL_ERROR_WANT_WRITE) return WaitFor(POLLOUT, deadline, what);
  if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    int saved = errno;
    ERR_clear_error();
    return Fail(ErrorCode::kCrypto, std::string(what) + " with " + peer_ + ": connection closed" +
                                        (saved != 0 ? " (" + Errno(saved) + ")" : ""));
  }
  return Fail(ErrorCode::kCrypto,
              std::string(what) + " with " + peer_ + " failed: " + ossl::DrainErrors());
}

Status Connection::StartTls(const std::string& sni, std::string_view alpn,
                            Clock::time_point deadline) {
  ctx_.reset(SSL_CTX_new(TLS_client_method()));
  if (!ctx_) return ossl::CryptoFail("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_NONE, nullptr);
  ssl_.reset(SSL_new(ctx_.get()));
  if (!ssl_) return ossl::CryptoFail("SSL_new");
  if (SSL_set_fd(ssl_.get(), fd_) != 1) return ossl::CryptoFail("SSL_set_fd");
  if (!sni.empty() && SSL_set_tlsext_host_name(ssl_.get(), sni.c_str()) != 1) {
    return ossl::CryptoFail("SNI " + sni);
  }
  if (!alpn.empty()) {
    if (alpn.size() > 255) return Fail(ErrorCode::kInvalidArgument, "ALPN protocol name too long");
    std::string wire(1, static_cast<char>(alpn.size()));
    wire.append(alpn);
    // SSL_set_alpn_protos returns 0 on success.
    if (SSL_set_alpn_protos(ssl_.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned>(wire.size())) != 0) {
      return ossl::CryptoFail("ALPN");
    }
  }
  while (true) {
    ERR_clear_error();
    errno = 0;
    int r = 0;
    {
      ScopedSigpipeBlock no_sigpipe;
      r = SSL_connect(ssl_.get());
    }
    if (r == 1) return Ok();
    CA_TRY_STATUS(SslWait(r, deadline, "TLS handshake"));
  }
}

Status Connection::WriteAll(std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    if (ssl_) {
      ERR_clear_error();
      errno = 0;
      size_t written = 0;
      int r = 0;
      {
        ScopedSigpipeBlock no_sigpipe;
        r = SSL_write_ex(ssl_.get(), data.data(), data.size(), &written);
      }
      if (r == 1) {
        data.remove_prefix(written);
        continue;
      }
      CA_TRY_STATUS(SslWait(r, deadline, "TLS write"));
      continue;
    }
    ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return Fail(ErrorCode::kIo, "send to " + peer_ + ": " + Errno(errno));
    CA_TRY_STATUS(WaitFor(POLLOUT, deadline, "write"));
  }
  return Ok();
}

Result<size_t> Connection::Read(std::span<char> buffer, Clock::time_point deadline) {
  while (true) {
    if (ssl_) {
      ERR_clear_error();
      errno = 0;
      size_t got = 0;
      int r = 0;
      {
        ScopedSigpipeBlock no_sigpipe;  // reads may send (TLS 1.3 key updates, alerts)
        r = SSL_read_ex(ssl_.get(), buffer.data(), buffer.size(), &got);
      }
      if (r == 1) return got;
      int err = SSL_get_error(ssl_.get(), r);
      if (err == SSL_ERROR_ZERO_RETURN) return size_t{0};
      // Many servers close without close_notify; for a response delimited by the connection's end
      // that is the end of the data.
      if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0) return size_t{0};
      if (err == SSL_ERROR_SSL &&
          ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        return size_t{0};
      }
      CA_TRY_STATUS(SslWait(r, deadline, "TLS read"));
      continue;
    }
    ssize_t n = recv(fd_, buffer.data(), buffer.size(), 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return Fail(ErrorCode::kIo, "read from " + peer_ + ": " + Errno(errno));
    CA_TRY_STATUS(WaitFor(POLLIN, deadline, "read"));
  }
}

}  // namespace ca::gateway::validation
