// Test-only servers on 127.0.0.1 ephemeral ports, each stopped (thread joined) by its destructor:
// - TinyServer: plain HTTP, HTTPS (self-signed) or a TLS-ALPN responder presenting a given cert;
// - TinyCaaDns: an authoritative UDP DNS responder for CAA records with arbitrary flags, because
//   pebble-challtestsrv's /add-caa cannot set the critical flag.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <openssl/ssl.h>

#include "common/openssl.h"
#include "gateway/validation/dns_client.h"

namespace ca::gateway::validation::testing {

struct TestCert {
  ossl::Pkey key;
  ossl::X509Ptr cert;
};

// Self-signed P-256 certificate with SAN DNS:<each of sans>; with acme_identifier set, adds the
// RFC 8737 acmeIdentifier extension (critical as given) holding SHA-256(*acme_identifier).
TestCert MakeCert(const std::vector<std::string>& sans,
                  const std::string* acme_identifier = nullptr, bool critical = true);

class TinyServer {
 public:
  enum class Mode { kHttp, kHttps, kTlsAlpn };
  // Maps a request path to a complete raw HTTP response.
  using Handler = std::function<std::string(const std::string& path)>;

  // kTlsAlpn: handshake selecting "acme-tls/1" with `cert`, then close. kHttps: `cert` serves TLS.
  // Listens on ip:port (port 0: an ephemeral one).
  TinyServer(Mode mode, Handler handler, TestCert* cert = nullptr,
             const std::string& ip = "127.0.0.1", uint16_t port = 0);
  ~TinyServer();
  uint16_t port() const { return port_; }
  int requests() const { return requests_.load(); }  // connections accepted

  static std::string Response(int status, const std::string& body,
                              const std::string& extra_headers = "");
  static std::string Redirect(const std::string& location, int status = 302);

 private:
  void Serve(int client);
  Mode mode_;
  Handler handler_;
  ossl::Owned<SSL_CTX, SSL_CTX_free> ctx_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// A UDP socket on 127.0.0.1 that never answers: a resolver that times out.
class SilentUdp {
 public:
  SilentUdp();
  ~SilentUdp();
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

class TinyCaaDns {
 public:
  TinyCaaDns();
  ~TinyCaaDns();
  // Records served for CAA queries at `name`; every other name/type gets NOERROR with no answer.
  void Set(const std::string& name, std::vector<CaaRecord> records);
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void Loop();
  int fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::mutex mu_;
  std::map<std::string, std::vector<CaaRecord>> records_;
  std::thread thread_;
};

}  // namespace ca::gateway::validation::testing
