// ca-validation-agent: configuration, the HTTPS server's client authentication and limits, and
// the gateway's client (AskAgent) and quorum against real agents on loopback.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/encoding.h"
#include "common/openssl.h"
#include "gateway/validation/agent/agent_server.h"
#include "gateway/validation/remote_client.h"
#include "gateway/validation/testing/fixture.h"

namespace ca::gateway::validation::agent {
namespace {

namespace fs = std::filesystem;
using testing::ChallTestSrv;

constexpr char kThumbprint[] = "agentThumbprint";
constexpr char kGatewayName[] = "gateway.test";

// A CA, the agent's server certificate (127.0.0.1), the gateway's client certificate, and a
// client certificate with another name and one from another CA, made with the openssl CLI.
class Pki {
 public:
  Pki() {
    dir_ = fs::temp_directory_path() / ("agent_test." + std::to_string(::getpid()));
    fs::create_directories(dir_);
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=Agent-Test-CA -keyout ca.key -out ca.pem 2>/dev/null");
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=Other-CA -keyout other.key -out other.pem 2>/dev/null");
    Leaf("ca", "agent", "IP:127.0.0.1", "serverAuth");
    Leaf("ca", "gateway", std::string("DNS:") + kGatewayName, "clientAuth");
    Leaf("ca", "stranger", "DNS:stranger.test", "clientAuth");
    Leaf("other", "foreign", std::string("DNS:") + kGatewayName, "clientAuth");
    Leaf("ca", "serveronly", std::string("DNS:") + kGatewayName, "serverAuth");
  }
  ~Pki() { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  void Run(const std::string& command) const {
    const std::string line = "cd " + dir_.string() + " && " + command;
    ASSERT_EQ(std::system(line.c_str()), 0) << line;
  }
  void Leaf(const std::string& ca, const std::string& name, const std::string& san,
            const std::string& eku) const {
    Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=" + name +
        " -keyout " + name + ".key -out " + name + ".csr 2>/dev/null && printf 'subjectAltName=" +
        san + "\\nextendedKeyUsage=" + eku + "\\n' > " + name + ".ext && openssl x509 -req -in " +
        name + ".csr -CA " + ca + ".pem -CAkey " + ca + ".key -CAcreateserial -days 1 -extfile " +
        name + ".ext -out " + name + ".pem 2>/dev/null && chmod 600 " + name + ".key");
  }
  fs::path dir_;
};

// A raw POST with libcurl, to send what AskAgent never would (no certificate, junk, oversize).
struct RawReply {
  long status = 0;
  std::string body;
  std::string error;
};
size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}
RawReply RawPost(const std::string& url, const std::string& body, const Pki& pki,
                 const std::string& client) {
  RawReply r;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_CAINFO, pki.Path("ca.pem").c_str());
  if (!client.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, pki.Path(client + ".pem").c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, pki.Path(client + ".key").c_str());
  }
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  if (CURLcode code = curl_easy_perform(c); code != CURLE_OK) r.error = curl_easy_strerror(code);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup(c);
  return r;
}

class AgentTest : public testing::ChallTestSrvSuite {
 protected:
  static void SetUpTestSuite() {
    ChallTestSrvSuite::SetUpTestSuite();
    pki_ = new Pki();
  }
  static void TearDownTestSuite() {
    delete pki_;
    ChallTestSrvSuite::TearDownTestSuite();
  }

  static nlohmann::json ConfigJson() {
    return {{"listen_address", "127.0.0.1"},
            {"port", 1},
            {"tls_cert_file", pki_->Path("agent.pem")},
            {"tls_key_file", pki_->Path("agent.key")},
            {"client_ca_file", pki_->Path("ca.pem")},
            {"client_names", {kGatewayName}},
            {"validation",
             {{"resolver", srv_->dns_address()},
              {"dns_timeout_seconds", 1},
              {"dns_attempts", 1},
              {"caa_identities", {testing::kCaaIdentity}},
              {"allowed_networks", {"127.0.0.0/8"}}}}};
  }

  // An agent on a free port; the config lives in the fixture (the server keeps a reference).
  std::unique_ptr<AgentServer> StartAgent() {
    auto config = AgentConfig::FromJson(ConfigJson());
    if (!config) {
      ADD_FAILURE() << config.error().ToString();
      return nullptr;
    }
    config->port = 0;
    configs_.push_back(std::make_unique<AgentConfig>(std::move(*config)));
    auto server = AgentServer::Start(*configs_.back());
    if (!server) ADD_FAILURE() << server.error().ToString();
    return server ? std::move(*server) : nullptr;
  }

  static std::string Url(const AgentServer& s) {
    return "https://127.0.0.1:" + std::to_string(s.port()) + kAgentPath;
  }

  static RemoteAgent Agent(const std::string& name, const std::string& url,
                           const std::string& client = "gateway") {
    return {name, url, pki_->Path(client + ".pem"), pki_->Path(client + ".key"),
            pki_->Path("ca.pem")};
  }

  static AgentRequest Dns01(const std::string& name, const std::string& token) {
    AgentRequest r;
    r.challenge = {ChallengeType::kDns01, name, token, KeyAuthorization(token, kThumbprint),
                   testing::kAccountUri,  false};
    return r;
  }
  static void SetTxt(const std::string& name, const std::string& token) {
    Post("/set-txt", {{"host", "_acme-challenge." + name + "."},
                      {"value", Base64UrlEncode(Sha256(KeyAuthorization(token, kThumbprint)))}});
  }

  static Pki* pki_;
  std::vector<std::unique_ptr<AgentConfig>> configs_;
};
Pki* AgentTest::pki_ = nullptr;

TEST_F(AgentTest, ConfigRefusesWhatWouldWeakenIt) {
  auto no_names = ConfigJson();
  no_names["client_names"] = nlohmann::json::array();
  auto r = AgentConfig::FromJson(no_names);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("client_names"), std::string::npos) << r.error().message;
  auto chained = ConfigJson();
  chained["validation"]["remote_agents"] = {{{"name", "x"},
                                             {"url", "https://10.0.0.1/validate"},
                                             {"client_cert_file", "a"},
                                             {"client_key_file", "b"},
                                             {"ca_file", "c"}}};
  r = AgentConfig::FromJson(chained);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("exactly one vantage point"), std::string::npos)
      << r.error().message;
  auto big = ConfigJson();
  big["max_request_bytes"] = 1 << 20;
  EXPECT_FALSE(AgentConfig::FromJson(big));
  auto unknown = ConfigJson();
  unknown["verify_clients"] = false;
  EXPECT_FALSE(AgentConfig::FromJson(unknown));
}

TEST_F(AgentTest, AnswersTheGatewayFromItsOwnResolver) {
  auto agent = StartAgent();
  ASSERT_TRUE(agent);
  SetTxt("agent-ok.test", "tokAgentOk");
  AgentAnswer a = AskAgent(Agent("zone1", Url(*agent)), Dns01("agent-ok.test", "tokAgentOk"),
                           Clock::now() + std::chrono::seconds(10));
  EXPECT_EQ(a.outcome.kind, OutcomeKind::kValid) << OutcomeToString(a.outcome);
  a = AskAgent(Agent("zone1", Url(*agent)), Dns01("agent-none.test", "tokAgentNone"),
               Clock::now() + std::chrono::seconds(10));
  ASSERT_EQ(a.outcome.kind, OutcomeKind::kInvalid) << OutcomeToString(a.outcome);
  EXPECT_EQ(a.outcome.problem, ProblemType::kUnauthorized);
  EXPECT_NE(a.outcome.detail.find("No TXT record found"), std::string::npos) << a.outcome.detail;
  // http-01: the answer carries the addresses this zone resolved the name to.
  Post("/add-http01",
       {{"token", "tokAgentHttp"}, {"content", KeyAuthorization("tokAgentHttp", kThumbprint)}});
  Post("/add-a", {{"host", "agent-http.test."}, {"addresses", {"127.0.0.1"}}});
  AgentRequest http = Dns01("agent-http.test", "tokAgentHttp");
  http.challenge.type = ChallengeType::kHttp01;
  http.http01_port = srv_->http01_port;
  a = AskAgent(Agent("zone1", Url(*agent)), http, Clock::now() + std::chrono::seconds(10));
  EXPECT_EQ(a.outcome.kind, OutcomeKind::kValid) << OutcomeToString(a.outcome);
  EXPECT_EQ(a.addresses, std::vector<std::string>{"127.0.0.1"});
}

TEST_F(AgentTest, RefusesClientsWithoutTheRightCertificate) {
  auto agent = StartAgent();
  ASSERT_TRUE(agent);
  SetTxt("agent-auth.test", "tokAuth");
  const std::string body = EncodeAgentRequest(Dns01("agent-auth.test", "tokAuth"));
  RawReply none = RawPost(Url(*agent), body, *pki_, "");
  EXPECT_EQ(none.status, 403) << none.error;
  EXPECT_NE(none.body.find("client certificate required"), std::string::npos) << none.body;
  for (const char* client : {"stranger", "foreign", "serveronly"}) {
    RawReply r = RawPost(Url(*agent), body, *pki_, client);
    EXPECT_EQ(r.status, 403) << client << ": " << r.error << " " << r.body;
    EXPECT_EQ(r.body.find("valid"), std::string::npos) << client << ": " << r.body;
  }
  // Through the gateway's client: a refused gateway is an unreachable perspective, not an answer.
  AgentAnswer a =
      AskAgent(Agent("zone1", Url(*agent), "stranger"), Dns01("agent-auth.test", "tokAuth"),
               Clock::now() + std::chrono::seconds(10));
  EXPECT_EQ(a.outcome.kind, OutcomeKind::kUnavailable);
  EXPECT_NE(a.outcome.detail.find("agent zone1 unreachable: HTTP status 403"), std::string::npos)
      << a.outcome.detail;
  RawReply good = RawPost(Url(*agent), body, *pki_, "gateway");
  EXPECT_EQ(good.status, 200) << good.error;
  EXPECT_NE(good.body.find("\"outcome\":\"valid\""), std::string::npos) << good.body;
}

TEST_F(AgentTest, RefusesHostileRequestsWithAClearError) {
  auto agent = StartAgent();
  ASSERT_TRUE(agent);
  RawReply big = RawPost(Url(*agent), std::string(9000, '{'), *pki_, "gateway");
  EXPECT_EQ(big.status, 413) << big.error;
  EXPECT_NE(big.body.find("request larger than 8192 bytes"), std::string::npos) << big.body;
  RawReply junk = RawPost(Url(*agent), "{\"check\": ", *pki_, "gateway");
  EXPECT_EQ(junk.status, 400);
  EXPECT_NE(junk.body.find("not a JSON object"), std::string::npos) << junk.body;
  auto extra = nlohmann::json::parse(EncodeAgentRequest(Dns01("x.test", "tok")));
  extra["resolver"] = "10.0.0.1";  // an attempt to steer the agent's view: refused
  RawReply steer = RawPost(Url(*agent), extra.dump(), *pki_, "gateway");
  EXPECT_EQ(steer.status, 400);
  EXPECT_NE(steer.body.find("resolver"), std::string::npos) << steer.body;
  RawReply token =
      RawPost(Url(*agent), EncodeAgentRequest(Dns01("x.test", "bad token!")), *pki_, "gateway");
  EXPECT_EQ(token.status, 200);
  EXPECT_NE(token.body.find("urn:ietf:params:acme:error:malformed"), std::string::npos)
      << token.body;
  RawReply path = RawPost("https://127.0.0.1:" + std::to_string(agent->port()) + "/other", "{}",
                          *pki_, "gateway");
  EXPECT_EQ(path.status, 404);
}

TEST_F(AgentTest, QuorumOverAgentsAndADeadOne) {
  auto one = StartAgent();
  auto two = StartAgent();
  ASSERT_TRUE(one && two);
  SetTxt("agent-quorum.test", "tokQuorum");
  const std::string dead =
      "https://127.0.0.1:" + std::to_string(testing::FreePort().value()) + kAgentPath;
  ValidatorConfig c = Config();
  c.remote_agents = {Agent("zone1", Url(*one)), Agent("zone2", Url(*two)), Agent("zone3", dead)};
  c.quorum_rule = QuorumRule::kAll;
  auto validator = Validator::Create(c, &AskAgent);
  ASSERT_TRUE(validator) << validator.error().ToString();
  ChallengeRequest request = Dns01("agent-quorum.test", "tokQuorum").challenge;
  auto all = (*validator)->ValidateChallenge(request, Clock::now() + std::chrono::seconds(15));
  ASSERT_TRUE(all);
  ASSERT_EQ(all->kind, OutcomeKind::kUnavailable) << OutcomeToString(*all);
  EXPECT_NE(all->detail.find("2 of 3 vantage points succeeded (quorum 3); agent zone3 unreachable"),
            std::string::npos)
      << all->detail;
  ASSERT_EQ(all->perspectives.size(), 3u);
  EXPECT_EQ(all->perspectives[2].name, "zone3");
  EXPECT_EQ(all->perspectives[2].kind, OutcomeKind::kUnavailable);
  c.quorum_rule = QuorumRule::kAllButOne;
  validator = Validator::Create(c, &AskAgent);
  ASSERT_TRUE(validator);
  auto lenient = (*validator)->ValidateChallenge(request, Clock::now() + std::chrono::seconds(15));
  ASSERT_TRUE(lenient);
  EXPECT_EQ(lenient->kind, OutcomeKind::kValid) << OutcomeToString(*lenient);
  EXPECT_EQ(lenient->detail, "2 of 3 vantage points succeeded (quorum 2)");
  c.quorum_rule = QuorumRule::kCount;
  EXPECT_FALSE(Validator::Create(c)) << "remote agents need a RemoteCall";
}

}  // namespace
}  // namespace ca::gateway::validation::agent
