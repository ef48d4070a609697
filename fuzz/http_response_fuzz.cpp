// HTTP responses as the http-01 check reads them (gateway/validation/http01.cpp, through its public
// CheckHttp01): status line, headers, Content-Length and chunked bodies, redirects. A loopback
// responder thread answers each connection with the input ("$PORT" replaced by its own port, so
// that redirects can come back to it); DNS answers come from resolver_stub.cpp.
// Kept thin on purpose: only Serve() and the CheckHttp01 call know about the validator, so the
// harness follows the validator's HTTP client when that changes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "fuzz/resolver_stub.h"
#include "fuzz/seeds.h"
#include "gateway/validation/challenges.h"
#include "gateway/validation/networks.h"
#include "gateway/validation/perspective.h"

namespace ca::fuzz {
namespace {

namespace v = gateway::validation;

constexpr char kToken[] = "tok3n_Fuzz-1";
constexpr char kKeyAuthorization[] = "tok3n_Fuzz-1.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

// Answers every connection on 127.0.0.1:<port> with the current response, then closes it.
class Responder {
 public:
  Responder() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      std::abort();
    }
    port_ = ntohs(addr.sin_port);
    std::thread([this] { Loop(); }).detach();  // lives as long as the process
  }
  uint16_t port() const { return port_; }
  void Serve(std::string response) {
    for (size_t at = response.find("$PORT"); at != std::string::npos; at = response.find("$PORT", at)) {
      response.replace(at, 5, std::to_string(port_));
    }
    std::lock_guard lock(mu_);
    response_ = std::move(response);
  }

 private:
  void Loop() {
    while (true) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::array<char, 4096> request;
      (void)!recv(c, request.data(), request.size(), 0);  // one read: the GET (or a ClientHello)
      std::string response;
      {
        std::lock_guard lock(mu_);
        response = response_;
      }
      for (size_t sent = 0; sent < response.size();) {
        ssize_t n = send(c, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      close(c);
    }
  }
  int fd_ = -1;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::string response_;
};

Responder& Server() {
  static Responder* responder = new Responder();  // never destroyed: its thread keeps running
  return *responder;
}

void Check(std::string response) {
  static const std::array<uint8_t, 4> kLoopback = {127, 0, 0, 1};
  SetStubReply({0, DnsMessageBuilder("www.example.org", 1).Answer("www.example.org", 1, kLoopback).Build()});
  Server().Serve(std::move(response));
  static const v::ValidatorConfig config = [] {
    v::ValidatorConfig c;
    c.resolver = "127.0.0.1:53";
    c.http01_port = Server().port();
    c.https_port = Server().port();
    c.connect_timeout = std::chrono::milliseconds(1000);
    c.io_timeout = std::chrono::milliseconds(2000);
    c.max_redirects = 2;
    c.caa_identities = {"ca.example"};
    c.allowed_networks = {*v::IpNetwork::Parse("127.0.0.0/8")};  // the loopback responder
    return c;
  }();
  static const v::VantagePoint vantage{"fuzz", "127.0.0.1:53", ""};
  static const v::DnsClient dns = *v::DnsClient::Create("127.0.0.1:53", std::chrono::seconds(1), 1);
  v::Perspective p{config, vantage, dns, v::Clock::now() + std::chrono::seconds(5)};
  (void)v::CheckHttp01(p, "www.example.org", kToken, kKeyAuthorization);
}

void WriteSeeds(const SeedWriter& out) {
  const std::string ka = kKeyAuthorization;
  out.Add("ok_length", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                           std::to_string(ka.size() + 2) + "\r\n\r\n" + ka + "\r\n");
  out.Add("ok_close", "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n" + ka);
  auto chunk = [](std::string_view data) {
    char size[17];
    std::snprintf(size, sizeof size, "%zx", data.size());
    return std::string(size) + "\r\n" + std::string(data) + "\r\n";
  };
  out.Add("ok_chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                            chunk(std::string_view(ka).substr(0, 16)) + chunk(std::string_view(ka).substr(16)) +
                            "0\r\n\r\n");
  out.Add("redirect", "HTTP/1.1 302 Found\r\nLocation: http://www.example.org:$PORT/next\r\nContent-Length: 0\r\n\r\n");
  out.Add("not_found", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
}

}  // namespace
}  // namespace ca::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ca::fuzz::MaybeWriteSeeds(ca::fuzz::WriteSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ca::fuzz::Check(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
