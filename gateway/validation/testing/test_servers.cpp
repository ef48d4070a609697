#include "gateway/validation/testing/test_servers.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <stdexcept>

#include "common/encoding.h"

namespace ca::gateway::validation::testing {

namespace {

void Require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("test server setup: " + what + ": " + ossl::DrainErrors());
}

// Binds `ip` (an IPv4 address, 127.0.0.1 by default) on `port` (0: ephemeral, set on return).
int ListenLoopback(int type, uint16_t& port, const std::string& ip = "127.0.0.1") {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  Require(fd >= 0, "socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  Require(inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) == 1, "address " + ip);
  Require(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind");
  if (type == SOCK_STREAM) Require(listen(fd, 16) == 0, "listen");
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

// Waits for fd readable or the stop pipe; false when stopping.
bool WaitReadable(int fd, int stop_fd) {
  pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  while (true) {
    int n = poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents & POLLIN) != 0) return false;
    if ((fds[0].revents & POLLIN) != 0) return true;
  }
}

int SelectAcmeTls(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                  unsigned inlen, void*) {
  static const unsigned char kProto[] = {10, 'a', 'c', 'm', 'e', '-', 't', 'l', 's', '/', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kProto, sizeof kProto, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

TestCert MakeCert(const std::vector<std::string>& sans, const std::string* acme_identifier,
                  bool critical) {
  TestCert out;
  out.key.reset(EVP_EC_gen("P-256"));
  Require(out.key != nullptr, "EVP_EC_gen");
  out.cert.reset(X509_new());
  X509* x = out.cert.get();
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("test responder"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, out.key.get());
  if (!sans.empty()) {
    std::string list;
    for (const auto& s : sans) list += (list.empty() ? "DNS:" : ",DNS:") + s;
    ossl::X509Ext ext(X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, list.c_str()));
    Require(ext && X509_add_ext(x, ext.get(), -1) == 1, "SAN");
  }
  if (acme_identifier != nullptr) {
    Bytes digest = Sha256(*acme_identifier);
    ossl::Asn1OctetString inner(ASN1_OCTET_STRING_new());
    ASN1_OCTET_STRING_set(inner.get(), digest.data(), static_cast<int>(digest.size()));
    unsigned char* der = nullptr;
    int len = i2d_ASN1_OCTET_STRING(inner.get(), &der);
    Require(len > 0, "i2d_ASN1_OCTET_STRING");
    ossl::Asn1OctetString wrapped(ASN1_OCTET_STRING_new());
    ASN1_OCTET_STRING_set(wrapped.get(), der, len);
    OPENSSL_free(der);
    ossl::Asn1Object oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1));
    ossl::X509Ext ext(
        X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), critical ? 1 : 0, wrapped.get()));
    Require(ext && X509_add_ext(x, ext.get(), -1) == 1, "acmeIdentifier");
  }
  Require(X509_sign(x, out.key.get(), EVP_sha256()) > 0, "X509_sign");
  return out;
}

TinyServer::TinyServer(Mode mode, Handler handler, TestCert* cert, const std::string& ip,
                       uint16_t port)
    : mode_(mode), handler_(std::move(handler)), port_(port) {
  // The server side writes (close_notify, responses) to clients that may have left: test processes
  // ignore SIGPIPE rather than die.
  signal(SIGPIPE, SIG_IGN);
  if (mode != Mode::kHttp) {
    Require(cert != nullptr, "TLS modes need a certificate");
    ctx_.reset(SSL_CTX_new(TLS_server_method()));
    Require(ctx_ != nullptr, "SSL_CTX_new");
    Require(SSL_CTX_use_certificate(ctx_.get(), cert->cert.get()) == 1, "use cert");
    Require(SSL_CTX_use_PrivateKey(ctx_.get(), cert->key.get()) == 1, "use key");
    if (mode == Mode::kTlsAlpn) SSL_CTX_set_alpn_select_cb(ctx_.get(), SelectAcmeTls, nullptr);
  }
  listen_fd_ = ListenLoopback(SOCK_STREAM, port_, ip);
  Require(pipe(stop_pipe_) == 0, "pipe");
  thread_ = std::thread([this] {
    while (WaitReadable(listen_fd_, stop_pipe_[0])) {
      int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      timeval tv{5, 0};
      setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      ++requests_;
      Serve(client);
      close(client);
    }
  });
}

TinyServer::~TinyServer() {
  if (write(stop_pipe_[1], "x", 1) != 1) std::perror("stop pipe");
  thread_.join();
  close(listen_fd_);
  close(stop_pipe_[0]);
  close(stop_pipe_[1]);
}

void TinyServer::Serve(int client) {
  ossl::Owned<SSL, SSL_free> ssl;
  if (ctx_) {
    ssl.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl.get(), client);
    if (SSL_accept(ssl.get()) != 1) {
      ERR_clear_error();
      return;
    }
    if (mode_ == Mode::kTlsAlpn) {
      SSL_shutdown(ssl.get());
      return;
    }
  }
  auto read_some = [&](char* buf, size_t n) -> ssize_t {
    if (ssl) {
      size_t got = 0;
      return SSL_read_ex(ssl.get(), buf, n, &got) == 1 ? static_cast<ssize_t>(got) : -1;
    }
    return recv(client, buf, n, 0);
  };
  std::string request;
  char buf[2048];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
    ssize_t n = read_some(buf, sizeof buf);
    if (n <= 0) return;
    request.append(buf, static_cast<size_t>(n));
  }
  size_t sp1 = request.find(' ');
  size_t sp2 = request.find(' ', sp1 + 1);
  std::string path = request.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string response = handler_(path);
  if (ssl) {
    size_t written = 0;
    SSL_write_ex(ssl.get(), response.data(), response.size(), &written);
    SSL_shutdown(ssl.get());
  } else {
    if (send(client, response.data(), response.size(), MSG_NOSIGNAL) < 0) return;
  }
}

std::string TinyServer::Response(int status, const std::string& body,
                                 const std::string& extra_headers) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" +
         extra_headers + "\r\n" + body;
}

std::string TinyServer::Redirect(const std::string& location, int status) {
  return Response(status, "", "Location: " + location + "\r\n");
}

SilentUdp::SilentUdp() {
  fd_ = ListenLoopback(SOCK_DGRAM, port_);
}
SilentUdp::~SilentUdp() {
  close(fd_);
}

TinyCaaDns::TinyCaaDns() {
  fd_ = ListenLoopback(SOCK_DGRAM, port_);
  Require(pipe(stop_pipe_) == 0, "pipe");
  thread_ = std::thread([this] { Loop(); });
}

TinyCaaDns::~TinyCaaDns() {
  if (write(stop_pipe_[1], "x", 1) != 1) std::perror("stop pipe");
  thread_.join();
  close(fd_);
  close(stop_pipe_[0]);
  close(stop_pipe_[1]);
}

void TinyCaaDns::Set(const std::string& name, std::vector<CaaRecord> records) {
  std::lock_guard lock(mu_);
  records_[name] = std::move(records);
}

void TinyCaaDns::Loop() {
  uint8_t query[512];
  while (WaitReadable(fd_, stop_pipe_[0])) {
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    ssize_t n =
        recvfrom(fd_, query, sizeof query, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < static_cast<ssize_t>(NS_HFIXEDSZ)) continue;
    ns_msg msg;
    ns_rr question;
    if (ns_initparse(query, static_cast<int>(n), &msg) < 0 ||
        ns_parserr(&msg, ns_s_qd, 0, &question) < 0)
      continue;
    int qname_len = dn_skipname(query + NS_HFIXEDSZ, query + n);
    if (qname_len < 0) continue;
    size_t question_end = NS_HFIXEDSZ + static_cast<size_t>(qname_len) + 4;
    std::vector<CaaRecord> answers;
    if (ns_rr_type(question) == 257) {
      std::lock_guard lock(mu_);
      auto it = records_.find(ns_rr_name(question));
      if (it != records_.end()) answers = it->second;
    }
    // Response = query header (id, RD) with QR/AA/RA set and the answer count, the question as
    // received, then each CAA RR owned by the question name (compression pointer to offset 12).
    std::vector<uint8_t> out(query, query + question_end);
    out[2] = static_cast<uint8_t>(0x84 | (query[2] & 0x01));
    out[3] = 0x80;
    out[6] = 0;
    out[7] = static_cast<uint8_t>(answers.size());
    std::memset(out.data() + 8, 0, 4);
    for (const auto& rr : answers) {
      size_t rdlen = 2 + rr.tag.size() + rr.value.size();
      const uint8_t fixed[] = {0xc0,
                               0x0c,
                               0x01,
                               0x01,
                               0x00,
                               0x01,
                               0,
                               0,
                               0,
                               0,
                               static_cast<uint8_t>(rdlen >> 8),
                               static_cast<uint8_t>(rdlen & 0xff),
                               rr.flags,
                               static_cast<uint8_t>(rr.tag.size())};
      out.insert(out.end(), std::begin(fixed), std::end(fixed));
      out.insert(out.end(), rr.tag.begin(), rr.tag.end());
      out.insert(out.end(), rr.value.begin(), rr.value.end());
    }
    sendto(fd_, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
}

}  // namespace ca::gateway::validation::testing
