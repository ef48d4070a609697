// End to end: CRL shards. The real ca-engine on SoftHSM with crl_shards = 4 and its CRL URL on a
// ca-status-server; certificates are issued and one is revoked. The shard named in that
// certificate's CRLDP is fetched from ca-status-server (curl) and `openssl verify -crl_check`
// says "certificate revoked"; the shard's IDP is critical and names the URL (`openssl crl
// -text`); a certificate of another shard verifies OK against its own shard, and OpenSSL refuses
// that shard for the revoked certificate ("different CRL scope": the IDP does not match its CRLDP).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "crl_ocsp/crl_scope.h"
#include "crl_ocsp/status_store.h"
#include "engine/testing/engine_process.h"
#include "engine/testing/process_checks.h"

namespace ca::engine {
namespace {

using engine::api::IssueResponse;
using testing::EngineSetup;
using testing::ReadText;
using testing::WaitFor;

// Runs a shell command; returns its exit status and stdout+stderr.
std::pair<int, std::string> Shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// A free loopback port (bound then released: the server binds it just after).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return -1;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

// ca-status-server, stopped by PID.
class StatusServerProcess {
 public:
  ~StatusServerProcess() { Stop(); }
  bool Start(const std::string& config, const std::string& log) {
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
      ::execl(CA_STATUS_SERVER_BIN, CA_STATUS_SERVER_BIN, "--config", config.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return true;
  }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

std::string CrlDpOf(const std::string& pem) {
  ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ossl::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return "";
  auto* dps = static_cast<CRL_DIST_POINTS*>(
      X509_get_ext_d2i(cert.get(), NID_crl_distribution_points, nullptr, nullptr));
  if (dps == nullptr) return "";
  const GENERAL_NAME* uri =
      sk_GENERAL_NAME_value(sk_DIST_POINT_value(dps, 0)->distpoint->name.fullname, 0);
  std::string out(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri->d.uniformResourceIdentifier)),
                  static_cast<size_t>(ASN1_STRING_length(uri->d.uniformResourceIdentifier)));
  CRL_DIST_POINTS_free(dps);
  return out;
}

struct Issued {
  std::string serial, pem, crldp, file;
};

// As `openssl crl -text` prints it.
std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

TEST(CrlShardsE2E, ShardFromTheCrlDpRevokesAndItsIdpNamesIt) {
  auto setup = EngineSetup::Create(CA_ENGINE_BIN);
  ASSERT_TRUE(setup) << setup.error().ToString();
  EngineSetup& s = **setup;
  int port = FreePort();
  ASSERT_GT(port, 0);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  const std::string full_url = base + "/crl/test-int.crl";
  ASSERT_TRUE(s.MergeInstanceConfig(R"({"crl_shards": 4, "crl_url": ")" + full_url + "\"}"));
  ASSERT_TRUE(s.Start()) << ReadText(s.log_path());
  auto client = s.Client();
  ASSERT_TRUE(client);

  // Certificates until two shards have one (8 tries: all in one shard has odds 4^-7).
  std::map<std::string, Issued> by_url;
  for (int i = 0; i < 8; ++i) {
    auto key = testing::FreshRsaKey();
    std::string name = "shard" + std::to_string(i) + ".example.fr";
    auto r = client->Issue(testing::MakeIssueRequest("shards-" + std::to_string(i), s.kid(), {name},
                                                     key.get()));
    ASSERT_TRUE(r && std::holds_alternative<IssueResponse>(*r)) << ReadText(s.log_path());
    const auto& issued = std::get<IssueResponse>(*r);
    Issued cert{issued.serial_hex, issued.certificate_pem, CrlDpOf(issued.certificate_pem), ""};
    cert.file = s.dir().Sub("cert-" + std::to_string(i) + ".pem");
    std::ofstream(cert.file) << cert.pem;
    EXPECT_TRUE(cert.crldp.starts_with(base + "/crl/test-int/")) << cert.crldp;
    by_url.emplace(cert.crldp, cert);
  }
  ASSERT_GE(by_url.size(), 2u);
  const Issued victim = by_url.begin()->second;
  const Issued other = std::next(by_url.begin())->second;

  engine::api::RevokeRequest revoke;
  revoke.serial_hex = victim.serial;
  revoke.reason = pki::RevocationReason::kKeyCompromise;
  revoke.actor = "ra:test";
  auto revoked = client->Revoke(revoke);
  ASSERT_TRUE(revoked && std::holds_alternative<engine::api::RevokeResponse>(*revoked));

  // The status server on the engine's status store (read-only), on the port in the CRL URLs.
  const std::string config = s.dir().Sub("status.json");
  std::ofstream(config) << R"({"listen_address": "127.0.0.1", "port": )" << port
                        << R"(, "store": ")" << s.dir().Sub("production-status")
                        << R"(", "issuers": ["test-int"], "crl_shards": {"test-int": 4}, "threads": 1})";
  StatusServerProcess server;
  ASSERT_TRUE(server.Start(config, s.dir().Sub("status.log")));
  const std::string victim_crl = s.dir().Sub("victim-shard.crl");
  // The victim's shard lists it within crl_revocation_delay (30 s) and the job's tick.
  bool listed = WaitFor(
      [&] {
        auto [rc, out] = Shell("curl -sf -o " + victim_crl + " " + victim.crldp +
                             " && openssl crl -inform DER -in " + victim_crl + " -noout -text");
        return rc == 0 && out.find("Serial Number: " + Upper(victim.serial)) != std::string::npos;
      },
      std::chrono::seconds(60));
  ASSERT_TRUE(listed) << ReadText(s.log_path()) << ReadText(s.dir().Sub("status.log"));

  const std::string ca = " -CAfile " + s.dir().Sub("root.pem") + " -untrusted " +
                         s.dir().Sub("intermediate.pem");
  auto [vrc, vout] = Shell("openssl verify -crl_check" + ca + " -CRLfile " + victim_crl + " " +
                         victim.file);
  EXPECT_NE(vrc, 0) << vout;
  EXPECT_NE(vout.find("certificate revoked"), std::string::npos) << vout;

  auto [trc, text] = Shell("openssl crl -inform DER -in " + victim_crl + " -noout -text");
  ASSERT_EQ(trc, 0) << text;
  EXPECT_NE(text.find("X509v3 Issuing Distribution Point: critical"), std::string::npos) << text;
  EXPECT_NE(text.find("URI:" + victim.crldp), std::string::npos) << text;
  EXPECT_NE(text.find("Only User Certificates"), std::string::npos) << text;

  // Another shard's certificate: OK against its own shard; that shard's scope excludes the victim.
  const std::string other_crl = s.dir().Sub("other-shard.crl");
  auto [orc, oout] = Shell("curl -sf -D " + s.dir().Sub("other.headers") + " -o " + other_crl + " " +
                         other.crldp + " && openssl verify -crl_check" + ca + " -CRLfile " +
                         other_crl + " " + other.file);
  EXPECT_EQ(orc, 0) << oout;
  EXPECT_NE(oout.find(": OK"), std::string::npos) << oout;
  std::string headers = ReadText(s.dir().Sub("other.headers"));
  EXPECT_NE(headers.find("application/pkix-crl"), std::string::npos) << headers;
  EXPECT_NE(headers.find("max-age="), std::string::npos) << headers;
  EXPECT_NE(headers.find("ETag"), std::string::npos) << headers;
  auto [xrc, xout] = Shell("openssl verify -crl_check" + ca + " -CRLfile " + other_crl + " " +
                         victim.file);
  EXPECT_NE(xrc, 0) << xout;
  EXPECT_NE(xout.find("different CRL scope"), std::string::npos) << xout;

  // The full CRL lists the victim too; /health sees all 4 shards; /metrics counts them.
  auto [frc, fout] = Shell("curl -sf " + full_url + " | openssl crl -inform DER -noout -text");
  EXPECT_EQ(frc, 0) << fout;
  EXPECT_NE(fout.find("Serial Number: " + Upper(victim.serial)), std::string::npos) << fout;
  EXPECT_EQ(fout.find("Issuing Distribution Point"), std::string::npos) << fout;
  auto [hrc, health] = Shell("curl -s " + base + "/health");
  EXPECT_EQ(health.find("crl shard"), std::string::npos) << health;
  auto [mrc, metrics] = Shell("curl -sf " + base + "/metrics");
  EXPECT_NE(metrics.find("ca_crl_shards_published{issuer=\"test-int\"} 4"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("ca_crl_shards_missing{issuer=\"test-int\"} 0"), std::string::npos)
      << metrics;
  auto [nrc, nout] = Shell("curl -s -o /dev/null -w '%{http_code}' " + base + "/crl/test-int/9.crl");
  EXPECT_EQ(nout, "404");
  server.Stop();
  s.Stop();
}

}  // namespace
}  // namespace ca::engine
