// End to end: the real ca-engine on a SoftHSM token issues an SSL_SHORT certificate (profile
// without OCSP and without CRL pointer): one HSM signature (the certificate's, none by the OCSP
// key), no OCSP URL, no CRL distribution point, no stored OCSP response, even after a restart
// (whose first OCSP scan would sign any "missing" response at once). Revoked, it is listed in the
// full CRL and still gets no OCSP response. An SSL certificate beside it keeps its response.
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "crl_ocsp/status_store.h"
#include "engine/testing/engine_process.h"
#include "engine/testing/process_checks.h"

namespace ca::engine {
namespace {

using engine::api::IssueResponse;
using nlohmann::json;
using testing::EngineSetup;
using testing::ReadText;
using testing::PrometheusSample;
using testing::WaitFor;

struct StoreView {
  bool has_response = false;
  std::optional<crl_ocsp::CrlInfo> crl;
  bool listed_in_full_crl = false;
};

// Reads the status store beside the running engine (read-only).
StoreView Read(EngineSetup& setup, const std::string& serial_hex) {
  StoreView v;
  auto reader = crl_ocsp::StatusReader::Open(setup.dir().Sub("production-status"));
  if (!reader) return v;
  auto txn = kv::Txn::BeginRead(reader->env());
  EXPECT_TRUE(txn);
  if (!txn) return v;
  auto serial = pki::Serial::FromHex(serial_hex);
  EXPECT_TRUE(serial);
  auto r = crl_ocsp::FindResponse(*txn, reader->dbs(), "test-int", serial->magnitude);
  v.has_response = r && r->has_value();
  auto crl = crl_ocsp::FindCrl(*txn, reader->dbs(), "test-int");  // the full CRL
  if (crl && *crl) {
    v.crl = (*crl)->info;
    auto parsed = ossl::CrlFromDer(
        std::span(reinterpret_cast<const uint8_t*>((*crl)->der.data()), (*crl)->der.size()));
    auto asn1 = serial->ToAsn1();
    X509_REVOKED* entry = nullptr;
    v.listed_in_full_crl =
        parsed && asn1 && X509_CRL_get0_by_serial(parsed->get(), &entry, asn1->get()) == 1;
  }
  return v;
}

IssueResponse Issue(engine::api::EngineClient& client, EngineSetup& s, const std::string& id,
                    const std::string& name, const std::string& profile) {
  auto key = testing::FreshRsaKey();
  auto resp = client.Issue(testing::MakeIssueRequest(id, s.kid(), {name}, key.get(), profile));
  EXPECT_TRUE(resp && std::holds_alternative<IssueResponse>(*resp))
      << (resp ? engine::api::ResponseToJson(*resp).dump() : resp.error().ToString())
      << ReadText(s.log_path());
  return resp && std::holds_alternative<IssueResponse>(*resp) ? std::get<IssueResponse>(*resp)
                                                              : IssueResponse{};
}

TEST(EngineShortLivedE2E, NoOcspForShortLivedButListedInTheFullCrl) {
  auto setup = EngineSetup::Create(CA_ENGINE_BIN);
  ASSERT_TRUE(setup) << setup.error().ToString();
  EngineSetup& s = **setup;
  std::string metrics_path = s.dir().Sub("engine.prom");
  {
    json config = json::parse(ReadText(s.dir().Sub("engine.json")));
    config["metrics_file"] = metrics_path;
    config["metrics_interval_seconds"] = 1;
    ASSERT_TRUE(ossl::WriteFileAtomic(s.dir().Sub("engine.json"), config.dump(2), 0600, true));
  }
  const std::string issued_short =
      "acme_ca_engine_issuances_total{profile=\"SSL_SHORT\",result=\"issued\"}";
  const std::string issuer_signs = "acme_ca_engine_hsm_sign_seconds_count{key=\"issuer\"}";
  const std::string ocsp_signs = "acme_ca_engine_hsm_sign_seconds_count{key=\"ocsp\"}";
  ASSERT_TRUE(s.Start()) << ReadText(s.log_path());
  auto client = s.Client();
  ASSERT_TRUE(client);
  // The first CRL (at start) is signed before the issuance is counted.
  ASSERT_TRUE(WaitFor([&] { return PrometheusSample(ReadText(metrics_path), issuer_signs) >= 1; },
                      std::chrono::seconds(10)));
  double issuer_before = PrometheusSample(ReadText(metrics_path), issuer_signs);

  IssueResponse short_lived = Issue(*client, s, "short-1", "svc.example.fr", "SSL_SHORT");
  ASSERT_FALSE(short_lived.serial_hex.empty());
  std::string metrics;
  ASSERT_TRUE(WaitFor([&] { return PrometheusSample(metrics = ReadText(metrics_path), issued_short) == 1; },
                      std::chrono::seconds(10)));
  EXPECT_EQ(PrometheusSample(metrics, issuer_signs), issuer_before + 1) << metrics;  // the certificate
  EXPECT_EQ(PrometheusSample(metrics, ocsp_signs), 0) << metrics;                    // no OCSP response
  EXPECT_EQ(PrometheusSample(metrics, "acme_ca_engine_ocsp_responses_signed_total"), 0) << metrics;

  // The certificate: 6 days, AIA caIssuers only, no CRL distribution point.
  auto certs = ossl::CertsFromPem(short_lived.certificate_pem);
  ASSERT_TRUE(certs && !certs->empty());
  X509* c = certs->front().get();
  EXPECT_EQ(short_lived.not_after - short_lived.not_before, 6 * 86400 - 1);
  EXPECT_EQ(X509_get_ext_by_NID(c, NID_crl_distribution_points, -1), -1);
  ossl::Owned<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free> aia(
      static_cast<AUTHORITY_INFO_ACCESS*>(X509_get_ext_d2i(c, NID_info_access, nullptr, nullptr)));
  ASSERT_TRUE(aia);
  ASSERT_EQ(sk_ACCESS_DESCRIPTION_num(aia.get()), 1);
  EXPECT_EQ(OBJ_obj2nid(sk_ACCESS_DESCRIPTION_value(aia.get(), 0)->method), NID_ad_ca_issuers);
  EXPECT_FALSE(Read(s, short_lived.serial_hex).has_response);

  // An SSL certificate beside it: its "good" response is signed by the OCSP key.
  IssueResponse ssl = Issue(*client, s, "ssl-1", "www.example.fr", "SSL");
  ASSERT_FALSE(ssl.serial_hex.empty());
  EXPECT_TRUE(Read(s, ssl.serial_hex).has_response);

  // A restart runs the OCSP job's first scan at once: it signs nothing for SSL_SHORT.
  ASSERT_EQ(s.Stop(), 0);
  ASSERT_TRUE(s.Start()) << ReadText(s.log_path());
  client = s.Client();
  ASSERT_TRUE(client);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_FALSE(Read(s, short_lived.serial_hex).has_response);
  EXPECT_EQ(PrometheusSample(ReadText(metrics_path), ocsp_signs), 0) << ReadText(metrics_path);

  // Revoked: in the CA store and the full CRL (within the engine's 30 s revocation delay), no
  // OCSP response.
  engine::api::RevokeRequest revoke;
  revoke.serial_hex = short_lived.serial_hex;
  revoke.reason = pki::RevocationReason::kKeyCompromise;
  revoke.actor = "ra:test";
  auto revoked = client->Revoke(revoke);
  ASSERT_TRUE(revoked && std::holds_alternative<engine::api::RevokeResponse>(*revoked));
  EXPECT_TRUE(std::get<engine::api::RevokeResponse>(*revoked).newly_revoked);
  ASSERT_TRUE(WaitFor([&] { return Read(s, short_lived.serial_hex).listed_in_full_crl; },
                      std::chrono::seconds(60)))
      << ReadText(s.log_path());
  EXPECT_FALSE(Read(s, short_lived.serial_hex).has_response);
  metrics = ReadText(metrics_path);
  EXPECT_EQ(PrometheusSample(metrics, ocsp_signs), 0) << metrics;
  EXPECT_EQ(s.Stop(), 0);
}

}  // namespace
}  // namespace ca::engine
