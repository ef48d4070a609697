// Test support: a throwaway PostgreSQL 15 cluster in a private temp dir (tests/lib/pg_cluster.sh
// does the work, so shell tests and C++ tests share one recipe). The server runs as user postgres
// and listens only on a unix socket inside the dir; PGSERVICEFILE of this process points at the
// cluster's service file, so kv::Env::Open("pg:<service>/<ns>") reaches it. The destructor stops
// the server by PID (immediate shutdown) and removes the dir.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ca::kv::postgres {

class PgCluster {
 public:
  // initdb + start (about a second); sets PGSERVICEFILE for the process.
  static Result<std::unique_ptr<PgCluster>> Start();
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // CREATE DATABASE `name` ([a-z0-9_]{1,48}) and a service of the same name in the service file.
  Status CreateDatabase(std::string_view name);
  // "pg:<service>/<ns>".
  static std::string Location(std::string_view service, std::string_view ns);

  Status Stop();     // fast shutdown (SIGINT to the postmaster), waits
  Status Kill();     // SIGKILL to the postmaster (a crash), waits
  Status Restart();  // starts the stopped cluster again on the same data

  const std::string& dir() const { return dir_; }
  std::string service_file() const { return dir_ + "/pg_service.conf"; }

 private:
  explicit PgCluster(std::string dir) : dir_(std::move(dir)) {}
  Status Script(std::string_view command, std::string_view arg = {}) const;
  std::string dir_;
};

}  // namespace ca::kv::postgres
