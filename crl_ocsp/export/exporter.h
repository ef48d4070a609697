// The static export of the status store: every artifact a client fetches over HTTP, as files an
// unmodified web server (appliance/nginx/acme-ca-status.conf) serves from one directory:
//   ca/<issuer>.der                  the issuer certificate (caIssuers)
//   crl/<issuer>.crl, crl/<issuer>/<k>.crl   every published CRL scope (CrlRelativePath)
//   ocsp/<base64 of the GET request> each pre-signed response, SHA-1 and SHA-256 CertID forms
//   manifest.json, health.json       written last in each pass (manifest.h)
// Each pass reads the store in one read transaction and rewrites only the files whose SHA-256
// differs from what it exported; files are replaced atomically with mtime = thisUpdate.
//
// Never stale: a response or CRL whose nextUpdate is less than `keep_margin` away is withheld
// (removed if exported), and so is the response of an expired certificate. The web server's
// Cache-Control max-age must stay below keep_margin minus the pass interval, so that no cache keeps
// a copy past nextUpdate.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/openssl.h"
#include "crl_ocsp/export/manifest.h"
#include "crl_ocsp/status_store.h"
#include "kv/kv.h"

namespace ca::crl_ocsp::exporter {

struct ExportOptions {
  std::string dir;                   // the export root (created if missing)
  std::vector<std::string> issuers;  // empty: every registered issuer
  std::chrono::seconds keep_margin{900};
};

struct PassStats {
  size_t files = 0;     // in the export after the pass
  size_t written = 0;   // new or changed files written
  size_t removed = 0;   // files removed (stale, deleted, expired certificate)
  size_t withheld = 0;  // stored artifacts not exported because stale or near nextUpdate
  std::vector<std::string> missing;          // configured issuers not registered in the store
  std::optional<Time> earliest_next_update;  // of the responses and CRLs exported
};

class Exporter {
 public:
  // Reads the previous pass's manifest (files still present with that size are not rewritten) and
  // clears the staging directory of a crashed pass. The Env and dbs must outlive the exporter.
  static Result<Exporter> Open(const kv::Env& env, const StoreDbs& dbs, ExportOptions options);

  // One pass at time `now`; the manifest is written last. On error the files written so far stay
  // (whole) and the previous manifest stays.
  Result<PassStats> RunPass(Time now);

  // health.json: {"status": "ok"|"unhealthy"|"error", ...} for a pass's outcome.
  Status WriteHealth(const Result<PassStats>& pass, Time now, double pass_seconds);

 private:
  struct Exported {
    std::array<uint8_t, 32> sha256{};
    uint64_t size = 0;
    Time next_update{};
  };
  struct Pass;
  Exporter(const kv::Env& env, const StoreDbs& dbs, ExportOptions options)
      : env_(&env), dbs_(dbs), options_(std::move(options)) {}

  Status ExportIssuer(Pass& pass, std::string_view name, std::string_view cert_der);
  Status Offer(Pass& pass, const std::string& path, std::string_view der,
               std::span<const uint8_t, 32> sha256, Time this_update, Time next_update);
  Status CommitBatch(Pass& pass);
  Status WriteManifest(Time now);

  const kv::Env* env_;
  StoreDbs dbs_;
  ExportOptions options_;
  std::unordered_map<std::string, Exported> files_;            // what the export directory holds
  std::map<std::string, ossl::X509Ptr, std::less<>> issuers_;  // a name never changes certificate
  // issuer '\0' serial magnitude -> the response's two paths (computing them costs two encodings).
  std::unordered_map<std::string, std::array<std::string, 2>> ocsp_paths_;
  std::optional<Time> last_success_;
  // The last manifest's mtime. Each new manifest gets a later second: a web server's ETag (nginx:
  // mtime and size) must change with the manifest, or a mirror's If-None-Match gets a 304 for a
  // manifest rewritten within the same second at the same size, and misses it.
  std::optional<Time> manifest_mtime_;
  const kv::Txn* env_txn_ = nullptr;  // the pass's read transaction, while RunPass reads the store
};

}  // namespace ca::crl_ocsp::exporter
