// GoogleTest support over PgCluster: one cluster per test process (started on first use, stopped
// at exit) and a fresh database (service) per test, so tests never see each other's rows.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "kv/postgres/testing/pg_cluster.h"

namespace ca::kv::postgres {

// The value of a Result (nothing for a Status), for PG_ASSERT_OK.
template <class T>
T TakeValue(std::expected<T, Error>& result) {
  return std::move(*result);
}
inline void TakeValue(std::expected<void, Error>&) {}

// Asserts that a Result or Status holds no error (printing it otherwise); yields the value.
#define PG_ASSERT_OK(expr)                                                                    \
  ({                                                                                          \
    auto pg_assert_ok_result_ = (expr);                                                       \
    ASSERT_TRUE(pg_assert_ok_result_.has_value()) << pg_assert_ok_result_.error().ToString(); \
    TakeValue(pg_assert_ok_result_);                                                          \
  })

class PgTest : public ::testing::Test {
 protected:
  // The process's cluster (nullptr, with the reason in `error`, if it would not start).
  static PgCluster* Cluster(std::string* error = nullptr) {
    static std::string start_error;
    static std::unique_ptr<PgCluster> cluster = [] {
      auto started = PgCluster::Start();
      if (!started) start_error = started.error().ToString();
      return started ? std::move(*started) : nullptr;
    }();
    if (error) *error = start_error;
    return cluster.get();
  }

  void SetUp() override {
    std::string error;
    cluster_ = Cluster(&error);
    ASSERT_NE(cluster_, nullptr) << error;
    static int databases = 0;
    service_ = "db" + std::to_string(++databases);
    auto created = cluster_->CreateDatabase(service_);
    ASSERT_TRUE(created.has_value()) << created.error().ToString();
  }

  // "pg:<this test's service>/<ns>".
  std::string Location(const std::string& ns = "store") const {
    return PgCluster::Location(service_, ns);
  }
  // libpq connection string of this test's database.
  std::string Conninfo() const { return "service=" + service_; }

  PgCluster* cluster_ = nullptr;
  std::string service_;
};

}  // namespace ca::kv::postgres
