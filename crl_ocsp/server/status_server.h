// The read-only HTTP status server: OCSP (RFC 6960 / RFC 5019 GET and POST), CRLs, /health and
// /metrics, on libmicrohttpd with an epoll thread pool. Needs no key: it serves what the engine
// pre-signed into the status store.
#pragma once

#include <microhttpd.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>

#include "common/result.h"
#include "crl_ocsp/ocsp_request.h"
#include "crl_ocsp/ocsp_response.h"
#include "crl_ocsp/server/config.h"
#include "crl_ocsp/server/freshness_monitor.h"
#include "crl_ocsp/status_store.h"

namespace ca::crl_ocsp::server {

// Request outcomes counted for /metrics: requests_total{endpoint,result}.
enum class Outcome : size_t {
  kOcspGood,
  kOcspRevoked,
  kOcspUnauthorized,
  kOcspMalformed,
  kOcspTryLater,
  kOcspInternalError,
  kOcspNotModified,
  kCrlOk,
  kCrlNotModified,
  kCrlNotFound,
  kCaCertOk,
  kCaCertNotModified,
  kCaCertNotFound,
  kHealthOk,
  kHealthUnavailable,
  kMetrics,
  kNotFound,
  kBadMethod,
  kCount
};

class StatusServer {
 public:
  // Opens the store read-only and starts listening.
  static Result<std::unique_ptr<StatusServer>> Start(const ServerConfig& config);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  uint16_t port() const { return port_; }

  // Implementation entry points (called from libmicrohttpd callbacks).
  MHD_Result Handle(MHD_Connection* connection, const char* url, const char* method,
                    const char* upload_data, size_t* upload_data_size, void** con_cls);
  void Count(Outcome outcome) {
    counters_[static_cast<size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
  }

 private:
  StatusServer(ServerConfig config, StatusReader reader);
  // key: the request's bytes (GET URL or POST body), for the per-thread parse cache of `method`.
  enum class OcspMethod { kGet, kPost };
  MHD_Result ServeOcsp(MHD_Connection* c, OcspMethod method, std::string_view key,
                       const std::function<ParsedOcspRequest()>& parse);
  MHD_Result ServeCrl(MHD_Connection* c, std::string_view name, CrlScope scope);
  MHD_Result ServeCaCertificate(MHD_Connection* c, std::string_view name);
  MHD_Result SendDocument(MHD_Connection* c, std::string_view body,
                          std::span<const uint8_t, 32> sha256, const char* content_type,
                          Time last_modified, Time expires, Time now, Outcome ok,
                          Outcome not_modified);
  // The responses' freshness (last pass) and the CRLs (read now), by config_.issuers index.
  Result<std::pair<std::shared_ptr<const FreshnessSnapshot>, std::vector<IssuerCrl>>> Freshness();
  MHD_Result ServeHealth(MHD_Connection* c);
  MHD_Result ServeMetrics(MHD_Connection* c);
  MHD_Result ServeOcspError(MHD_Connection* c, OcspError error);
  bool Serves(std::string_view issuer) const;

  ServerConfig config_;
  StatusReader reader_;
  std::unique_ptr<FreshnessMonitor> monitor_;  // after reader_: stopped before it closes
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
  std::array<Bytes, 7> error_bodies_;  // by OcspError value
  std::array<std::atomic<uint64_t>, static_cast<size_t>(Outcome::kCount)> counters_{};
};

}  // namespace ca::crl_ocsp::server
