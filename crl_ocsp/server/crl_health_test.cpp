#include "crl_ocsp/server/crl_health.h"

#include <gtest/gtest.h>

namespace ca::crl_ocsp::server {
namespace {

using namespace std::chrono_literals;

CrlInfo Info(uint64_t number, Time this_update, Time next_update) {
  return CrlInfo{number, this_update, next_update, 0};
}

TEST(CrlHealth, ReportsMissingAndStaleShardsByNumber) {
  Time now = pki::FromUnix(1'800'000'000);
  IssuerCrl crls;
  crls.registered = true;
  crls.crl = Info(9, now - 1h, now + 1h);
  crls.shards = {{0, Info(5, now - 2h, now + 1h)},
                 {2, Info(6, now - 50h, now - 1h)},  // stale
                 {7, Info(7, now - 1h, now + 1h)}};  // above the count: served, watched
  nlohmann::json stale = nlohmann::json::array(), missing = nlohmann::json::array();
  AddCrlHealth("ca", crls, 4, now, stale, missing);
  EXPECT_EQ(missing, nlohmann::json::parse(R"([{"issuer":"ca","what":"crl shard","shard":1},
                                                {"issuer":"ca","what":"crl shard","shard":3}])"));
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0]["shard"], 2);
  EXPECT_EQ(stale[0]["number"], 6);

  ServerConfig config;
  config.issuers = {"ca"};
  config.crl_shards["ca"] = 4;
  std::string out;
  AppendCrlMetrics(out, config, {crls}, now);
  for (std::string_view line :
       {"ca_crl_number{issuer=\"ca\"} 9\n", "ca_crl_shards_published{issuer=\"ca\"} 3\n",
        "ca_crl_shards_missing{issuer=\"ca\"} 2\n", "ca_crl_shards_stale{issuer=\"ca\"} 1\n",
        "ca_crl_shard_oldest_age_seconds{issuer=\"ca\"} 180000\n",
        "ca_crl_shard_lowest_number{issuer=\"ca\"} 5\n"}) {
    EXPECT_NE(out.find(line), std::string::npos) << line << out;
  }
}

}  // namespace
}  // namespace ca::crl_ocsp::server
