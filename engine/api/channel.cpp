#include "engine/api/channel.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/encoding.h"
#include "common/sigpipe.h"

namespace ca::engine::api {
namespace {

void FreePins(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
              void* /*argp*/) {
  delete static_cast<std::vector<std::string>*>(ptr);
}

// Ex-data slot owning the pinned fingerprints (a std::vector<std::string>*) of an SSL_CTX.
int PinIndexWithFree() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreePins);
  return index;
}

// Replaces chain building: the peer is accepted iff its leaf certificate is one of the pins.
int VerifyPinned(X509_STORE_CTX* store_ctx, void* arg) {
  auto* pins = static_cast<const std::vector<std::string>*>(arg);
  X509* leaf = X509_STORE_CTX_get0_cert(store_ctx);
  if (leaf == nullptr || pins == nullptr) return 0;
  auto fp = CertificateFingerprint(leaf);
  if (!fp) return 0;
  if (std::find(pins->begin(), pins->end(), *fp) == pins->end()) {
    X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  return 1;
}

Status WaitFd(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    int rc = ::poll(&p, 1, timeout_ms <= 0 ? -1 : timeout_ms);
    if (rc > 0) return Ok();
    if (rc == 0) return Fail(ErrorCode::kUnavailable, "channel: timed out");
    if (errno != EINTR) return Fail(ErrorCode::kIo, std::string("poll: ") + std::strerror(errno));
  }
}

Status SetTimeouts(int fd, int timeout_ms) {
  timeval tv{};
  tv.tv_sec = timeout_ms / 1000;
  tv.tv_usec = (timeout_ms % 1000) * 1000;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
    return Fail(ErrorCode::kIo, std::string("setsockopt: ") + std::strerror(errno));
  }
  return Ok();
}

Result<SslPtr> Handshake(int fd, SSL_CTX* ctx, bool server, int timeout_ms) {
  SslPtr ssl(SSL_new(ctx));
  if (!ssl) return ossl::CryptoFail("SSL_new");
  if (SSL_set_fd(ssl.get(), fd) != 1) return ossl::CryptoFail("SSL_set_fd");
  CA_TRY_STATUS(SetTimeouts(fd, timeout_ms));
  ERR_clear_error();
  ScopedSigpipeBlock no_sigpipe;
  int rc = server ? SSL_accept(ssl.get()) : SSL_connect(ssl.get());
  if (rc != 1) {
    long verify = SSL_get_verify_result(ssl.get());
    std::string why = ossl::DrainErrors();
    if (verify != X509_V_OK)
      why = std::string("peer certificate: ") + X509_verify_cert_error_string(verify);
    if (why.empty()) why = std::strerror(errno);
    return Fail(ErrorCode::kPermissionDenied, "channel TLS handshake failed: " + why);
  }
  if (SSL_version(ssl.get()) != TLS1_3_VERSION) {
    return Fail(ErrorCode::kPermissionDenied, "channel TLS handshake: not TLS 1.3");
  }
  CA_TRY_STATUS(SetTimeouts(fd, 0));
  return ssl;
}

}  // namespace

Result<std::string> NormalizeFingerprint(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ':') continue;
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return Fail(ErrorCode::kInvalidArgument, "fingerprint: not hex");
    }
    out.push_back(c);
  }
  if (out.size() != 64)
    return Fail(ErrorCode::kInvalidArgument, "fingerprint: expected SHA-256 (64 hex digits)");
  return out;
}

Result<std::string> CertificateFingerprint(const X509* cert) {
  Bytes der = CA_TRY(ossl::CertToDer(cert));
  return HexEncode(Sha256(der));
}

Result<std::string> CertificateFileFingerprint(const std::string& pem_path) {
  std::string pem = CA_TRY(ossl::ReadFile(pem_path));
  auto cert = CA_TRY(ossl::CertFromPem(pem));
  return CertificateFingerprint(cert.get());
}

Result<SslCtxPtr> MakeChannelContext(const ChannelIdentity& identity, bool server) {
  if (identity.pinned_peer_sha256.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "channel: no pinned peer certificate");
  }
  auto pins = std::make_unique<std::vector<std::string>>();
  for (const auto& pin : identity.pinned_peer_sha256)
    pins->push_back(CA_TRY(NormalizeFingerprint(pin)));

  SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return ossl::CryptoFail("SSL_CTX_new");
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1) {
    return ossl::CryptoFail("SSL_CTX_set_min_proto_version");
  }
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), identity.cert_path.c_str()) != 1) {
    return ossl::CryptoFail("channel certificate " + identity.cert_path);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), identity.key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    return ossl::CryptoFail("channel key " + identity.key_path);
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return ossl::CryptoFail("channel key does not match certificate");
  // No session resumption: every connection authenticates with the pinned certificates.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  int index = PinIndexWithFree();
  auto* raw_pins = pins.release();
  if (SSL_CTX_set_ex_data(ctx.get(), index, raw_pins) != 1) {
    delete raw_pins;
    return ossl::CryptoFail("SSL_CTX_set_ex_data");
  }
  SSL_CTX_set_cert_verify_callback(ctx.get(), VerifyPinned, raw_pins);
  return ctx;
}

Result<HostPort> ParseHostPort(std::string_view text, bool allow_port_zero) {
  auto bad = [&](std::string_view why) {
    return Fail(ErrorCode::kInvalidArgument,
                "\"" + std::string(text) + "\": expected host:port (" + std::string(why) + ")");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad("no port");
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad("unclosed [");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 address goes in [ ]");
  }
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return bad("port is not a number");
  unsigned value = static_cast<unsigned>(std::stoul(std::string(port)));
  if (value > 65535 || (value == 0 && !allow_port_zero)) return bad("port out of range");
  return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

Status CheckEndpoint(std::string_view endpoint) {
  if (endpoint.starts_with(kTcpEndpointPrefix)) {
    CA_TRY(ParseHostPort(endpoint.substr(kTcpEndpointPrefix.size())));
    return Ok();
  }
  if (!endpoint.starts_with("/"))
    return Fail(ErrorCode::kInvalidArgument, "engine endpoint \"" + std::string(endpoint) +
                                                 "\": expected a socket path or tcp:host:port");
  return Ok();
}

namespace {

Result<int> ConnectUnix(const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    return Fail(ErrorCode::kInvalidArgument, "socket path too long: " + socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd);
    return Fail(ErrorCode::kUnavailable,
                "cannot connect to engine at " + socket_path + ": " + std::strerror(e));
  }
  return fd;
}

// A non-blocking connect bounded by the timeout: an unreachable peer node must not hold a request
// for the kernel's SYN retries (minutes) before the next endpoint is tried.
Result<int> ConnectTcp(const std::string& endpoint, int timeout_ms) {
  HostPort hp = CA_TRY(ParseHostPort(std::string_view(endpoint).substr(kTcpEndpointPrefix.size())));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int gai = ::getaddrinfo(hp.host.c_str(), std::to_string(hp.port).c_str(), &hints, &found);
  if (gai != 0)
    return Fail(ErrorCode::kUnavailable, "engine at " + endpoint + ": " + ::gai_strerror(gai));
  ossl::Owned<addrinfo, ::freeaddrinfo> list(found);
  std::string why = "no address";
  for (addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (WaitFd(fd, POLLOUT, timeout_ms) &&
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0) {
        rc = soerr == 0 ? 0 : -1;
        errno = soerr;
      } else {
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      int one = 1;  // frames are small request/answer pairs: no Nagle delay
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      return fd;
    }
    why = std::strerror(errno);
    ::close(fd);
  }
  return Fail(ErrorCode::kUnavailable, "cannot connect to engine at " + endpoint + ": " + why);
}

}  // namespace

Result<TlsConnection> TlsConnection::Connect(const std::string& endpoint, SSL_CTX* ctx,
                                             int timeout_ms) {
  int fd = CA_TRY(endpoint.starts_with(kTcpEndpointPrefix) ? ConnectTcp(endpoint, timeout_ms)
                                                           : ConnectUnix(endpoint));
  auto ssl = Handshake(fd, ctx, /*server=*/false, timeout_ms);
  if (!ssl) {
    ::close(fd);
    return std::unexpected(ssl.error());
  }
  TlsConnection conn(fd, std::move(*ssl));
  // In TLS 1.3 the client finishes its handshake before the server has checked the client
  // certificate: the server's empty "ready" frame is what says this client was accepted.
  CA_TRY_STATUS(conn.SetReadTimeout(timeout_ms));
  auto ready = conn.ReadFrame(0);
  if (!ready) {
    return Fail(ErrorCode::kPermissionDenied,
                "channel: the engine refused this client (" + ready.error().message + ")");
  }
  CA_TRY_STATUS(conn.SetReadTimeout(0));
  return conn;
}

Result<TlsConnection> TlsConnection::Accept(int fd, SSL_CTX* ctx, int handshake_timeout_ms) {
  auto ssl = Handshake(fd, ctx, /*server=*/true, handshake_timeout_ms);
  if (!ssl) {
    ::close(fd);
    return std::unexpected(ssl.error());
  }
  TlsConnection conn(fd, std::move(*ssl));
  CA_TRY_STATUS(conn.WriteFrame(""));  // "ready": see Connect
  return conn;
}

TlsConnection::TlsConnection(TlsConnection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), ssl_(std::move(other.ssl_)) {}

TlsConnection& TlsConnection::operator=(TlsConnection&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    ssl_ = std::move(other.ssl_);
  }
  return *this;
}

TlsConnection::~TlsConnection() {
  Close();
}

void TlsConnection::Close() {
  ScopedSigpipeBlock no_sigpipe;
  if (ssl_) {
    SSL_set_quiet_shutdown(ssl_.get(), 1);
    ssl_.reset();
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

Status TlsConnection::SetReadTimeout(int timeout_ms) {
  timeval tv{};
  tv.tv_sec = timeout_ms / 1000;
  tv.tv_usec = (timeout_ms % 1000) * 1000;
  if (::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
    return Fail(ErrorCode::kIo, std::string("setsockopt: ") + std::strerror(errno));
  }
  return Ok();
}

Status TlsConnection::WriteAll(const uint8_t* data, size_t size) {
  ScopedSigpipeBlock no_sigpipe;
  size_t done = 0;
  while (done < size) {
    size_t written = 0;
    ERR_clear_error();
    if (SSL_write_ex(ssl_.get(), data + done, size - done, &written) != 1) {
      int err = SSL_get_error(ssl_.get(), 0);
      if (err == SSL_ERROR_WANT_WRITE) {
        CA_TRY_STATUS(WaitFd(fd_, POLLOUT, 30000));
        continue;
      }
      return Fail(ErrorCode::kUnavailable, "channel write failed: " + ossl::DrainErrors());
    }
    done += written;
  }
  return Ok();
}

Status TlsConnection::ReadAll(uint8_t* data, size_t size) {
  ScopedSigpipeBlock no_sigpipe;  // reads may send (alerts, key updates)
  size_t done = 0;
  while (done < size) {
    size_t got = 0;
    ERR_clear_error();
    if (SSL_read_ex(ssl_.get(), data + done, size - done, &got) != 1) {
      int err = SSL_get_error(ssl_.get(), 0);
      if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno == 0)) {
        return Fail(ErrorCode::kUnavailable, "channel closed by peer");
      }
      if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return Fail(ErrorCode::kUnavailable, "channel read timed out");
      }
      return Fail(ErrorCode::kIo, "channel read failed: " + ossl::DrainErrors());
    }
    done += got;
  }
  return Ok();
}

Status TlsConnection::WriteFrame(std::string_view payload) {
  if (payload.size() > kMaxFrameSize) {
    return Fail(ErrorCode::kResourceExhausted,
                "frame of " + std::to_string(payload.size()) + " bytes exceeds the channel limit");
  }
  std::vector<uint8_t> frame(4 + payload.size());
  uint32_t n = static_cast<uint32_t>(payload.size());
  frame[0] = static_cast<uint8_t>(n >> 24);
  frame[1] = static_cast<uint8_t>(n >> 16);
  frame[2] = static_cast<uint8_t>(n >> 8);
  frame[3] = static_cast<uint8_t>(n);
  std::memcpy(frame.data() + 4, payload.data(), payload.size());
  return WriteAll(frame.data(), frame.size());
}

Result<std::string> TlsConnection::ReadFrame(size_t max_size) {
  uint8_t header[4];
  CA_TRY_STATUS(ReadAll(header, 4));
  size_t n =
      (size_t{header[0]} << 24) | (size_t{header[1]} << 16) | (size_t{header[2]} << 8) | header[3];
  if (n > max_size) {
    return Fail(ErrorCode::kResourceExhausted, "frame of " + std::to_string(n) +
                                                   " bytes exceeds the limit of " +
                                                   std::to_string(max_size));
  }
  std::string payload(n, '\0');
  if (n > 0) CA_TRY_STATUS(ReadAll(reinterpret_cast<uint8_t*>(payload.data()), n));
  return payload;
}

namespace {

Result<ossl::Pkey> GenerateP256() {
  ossl::Pkey key(EVP_EC_gen("P-256"));
  if (!key) return ossl::CryptoFail("EVP_EC_gen");
  return key;
}

Result<ossl::X509Ptr> SelfSigned(EVP_PKEY* key, const std::string& common_name) {
  ossl::X509Ptr cert(X509_new());
  if (!cert) return ossl::CryptoFail("X509_new");
  Bytes serial_bytes = RandomBytes(16);
  serial_bytes[0] &= 0x7f;
  serial_bytes[0] |= 0x01;
  ossl::Bn bn(BN_bin2bn(serial_bytes.data(), static_cast<int>(serial_bytes.size()), nullptr));
  ossl::Asn1Integer serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  ossl::X509Name name(X509_NAME_new());
  if (!bn || !serial || !name ||
      X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(cert.get(), serial.get()) != 1 ||
      X509_set_subject_name(cert.get(), name.get()) != 1 ||
      X509_set_issuer_name(cert.get(), name.get()) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 366 * 24 * 3600) == nullptr ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return ossl::CryptoFail("building channel certificate");
  }
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            std::pair{NID_key_usage, "critical,digitalSignature"}}) {
    ossl::X509Ext ext(X509V3_EXT_conf_nid(nullptr, &v3, nid, value));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1)
      return ossl::CryptoFail("channel certificate extension");
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) return ossl::CryptoFail("X509_sign");
  return cert;
}

Result<std::string> KeyToPem(EVP_PKEY* key) {
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return ossl::CryptoFail("PEM_write_bio_PrivateKey");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

Result<std::pair<std::string, std::string>> MakeChannelCredentials(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Fail(ErrorCode::kInvalidArgument, "not a directory: " + dir);
  }
  for (const char* name : {"engine.key", "engine.crt", "client.key", "client.crt"}) {
    if (::access((dir + "/" + name).c_str(), F_OK) == 0) {
      return Fail(ErrorCode::kAlreadyExists, "refusing to overwrite " + dir + "/" + name);
    }
  }
  std::string fingerprints[2];
  int i = 0;
  for (const char* side : {"engine", "client"}) {
    ossl::Pkey key = CA_TRY(GenerateP256());
    auto cert = CA_TRY(SelfSigned(key.get(), std::string("ca-engine channel ") + side));
    std::string key_pem = CA_TRY(KeyToPem(key.get()));
    std::string cert_pem = CA_TRY(ossl::CertToPem(cert.get()));
    CA_TRY_STATUS(ossl::WriteFileAtomic(dir + "/" + side + ".key", key_pem, 0400, false));
    CA_TRY_STATUS(ossl::WriteFileAtomic(dir + "/" + side + ".crt", cert_pem, 0444, false));
    fingerprints[i++] = CA_TRY(CertificateFingerprint(cert.get()));
  }
  return std::pair{fingerprints[0], fingerprints[1]};
}

}  // namespace ca::engine::api
