#include "engine/channel_server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "engine/api/client.h"
#include "engine/testing/engine_fixture.h"

namespace ca::engine {
namespace {

using engine::api::EngineClient;
using engine::api::EngineError;
using engine::api::EngineErrorKind;

class ChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directory(dir_.Sub("creds"));
    std::filesystem::create_directory(dir_.Sub("other"));
    auto fps = engine::api::MakeChannelCredentials(dir_.Sub("creds"));
    ASSERT_TRUE(fps) << fps.error().ToString();
    engine_fp_ = fps->first;
    client_fp_ = fps->second;
    auto other = engine::api::MakeChannelCredentials(dir_.Sub("other"));
    ASSERT_TRUE(other);
    other_engine_fp_ = other->first;
  }

  void Start(std::vector<uid_t> uids, size_t max_frame = engine::api::kMaxFrameSize) {
    ChannelServerOptions o;
    o.socket_path = dir_.Sub("engine.sock");
    o.allowed_uids = std::move(uids);
    o.identity = {dir_.Sub("creds/engine.crt"), dir_.Sub("creds/engine.key"), {client_fp_}};
    o.max_frame_size = max_frame;
    auto s = ChannelServer::Start(o, [this](const engine::api::Request& r, const PeerInfo& peer) {
      ++handled_;
      last_uid_ = peer.uid;
      const auto& get = std::get<engine::api::GetCertificateRequest>(r);
      return engine::api::Response(
          EngineError{EngineErrorKind::kNotFound, "", "", "no " + get.serial_hex});
    });
    ASSERT_TRUE(s) << s.error().ToString();
    server_ = std::move(*s);
  }

  Result<EngineClient> Connect(const std::string& side = "creds",
                               const std::string& engine_fp = "") {
    return EngineClient::Connect(dir_.Sub("engine.sock"), dir_.Sub(side + "/client.crt"),
                                 dir_.Sub(side + "/client.key"),
                                 engine_fp.empty() ? engine_fp_ : engine_fp);
  }

  testing::TempDir dir_;
  std::string engine_fp_, client_fp_, other_engine_fp_;
  std::unique_ptr<ChannelServer> server_;
  std::atomic<int> handled_{0};
  std::atomic<uid_t> last_uid_{0};
};

TEST_F(ChannelTest, CredentialsAreWrittenWithRestrictiveModes) {
  struct stat st {};
  ASSERT_EQ(::stat(dir_.Sub("creds/engine.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
  ASSERT_EQ(::stat(dir_.Sub("creds/client.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
  auto fp = engine::api::CertificateFileFingerprint(dir_.Sub("creds/engine.crt"));
  ASSERT_TRUE(fp);
  EXPECT_EQ(*fp, engine_fp_);
  auto again = engine::api::MakeChannelCredentials(dir_.Sub("creds"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
}

TEST_F(ChannelTest, PinnedClientReachesTheHandler) {
  Start({::getuid()});
  struct stat st {};
  ASSERT_EQ(::stat(dir_.Sub("engine.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  auto client = Connect();
  ASSERT_TRUE(client) << client.error().ToString();
  for (int i = 0; i < 3; ++i) {
    auto resp = client->GetCertificate({"0a0b", {}});
    ASSERT_TRUE(resp) << resp.error().ToString();
    ASSERT_TRUE(std::holds_alternative<EngineError>(*resp));
    EXPECT_EQ(std::get<EngineError>(*resp).detail, "no 0a0b");
  }
  EXPECT_EQ(handled_, 3);
  EXPECT_EQ(last_uid_, ::getuid());
}

TEST_F(ChannelTest, ConcurrentCallsShareThePool) {
  Start({::getuid()});
  auto client = Connect();
  ASSERT_TRUE(client);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto resp = client->GetCertificate({"01", {}});
        if (resp && std::holds_alternative<EngineError>(*resp)) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 80);
}

TEST_F(ChannelTest, UnpinnedClientCertificateIsRefused) {
  Start({::getuid()});
  auto client = Connect("other");  // a client certificate the engine does not pin
  ASSERT_FALSE(client);
  for (int i = 0; i < 50 && server_->counters().handshake_failed == 0; ++i) ::usleep(10000);
  EXPECT_EQ(server_->counters().handshake_failed, 1u);
  EXPECT_EQ(handled_, 0);
}

TEST_F(ChannelTest, ClientRefusesAnEngineWithAnotherCertificate) {
  Start({::getuid()});
  auto client = Connect("creds", other_engine_fp_);
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(handled_, 0);
}

TEST_F(ChannelTest, WrongPeerUidIsRefusedBeforeTls) {
  Start({::getuid() + 4242});
  auto client = Connect();
  ASSERT_FALSE(client);
  EXPECT_EQ(server_->counters().wrong_uid, 1u);
  EXPECT_EQ(server_->counters().accepted, 0u);
  EXPECT_EQ(handled_, 0);
}

TEST_F(ChannelTest, OversizedFrameIsRefusedAndTheConnectionClosed) {
  Start({::getuid()}, /*max_frame=*/4096);
  auto client = Connect();
  ASSERT_TRUE(client);
  auto answer = client->CallRawForTest(std::string(5000, ' '));
  ASSERT_TRUE(answer) << answer.error().ToString();
  auto json = nlohmann::json::parse(*answer);
  EXPECT_EQ(json["type"], "error");
  EXPECT_EQ(json["body"]["kind"], "bad_request");
  EXPECT_NE(json["body"]["detail"].get<std::string>().find("exceeds the limit of 4096"),
            std::string::npos);
  EXPECT_EQ(server_->counters().oversized, 1u);
  EXPECT_EQ(handled_, 0);
  // The pool replaces the closed connection transparently for the next call.
  auto next = client->GetCertificate({"02", {}});
  if (!next) next = client->GetCertificate({"02", {}});
  ASSERT_TRUE(next) << next.error().ToString();
  EXPECT_EQ(handled_, 1);
}

TEST_F(ChannelTest, MalformedFramesAreRefusedAndNeverHandled) {
  Start({::getuid()});
  auto client = Connect();
  ASSERT_TRUE(client);
  for (
      std::string bad :
      {std::string("{not json"), std::string("[1,2]"),
       std::string(R"({"v":1,"type":"issue","body":{"request_id":"x"}})"),
       std::string(
           R"({"v":9,"type":"get_certificate","body":{"serial_hex":"01","environment":"production"}})")}) {
    auto answer = client->CallRawForTest(bad);
    ASSERT_TRUE(answer) << answer.error().ToString();
    auto json = nlohmann::json::parse(*answer);
    EXPECT_EQ(json["body"]["kind"], "bad_request") << bad;
  }
  EXPECT_EQ(server_->counters().malformed, 4u);
  EXPECT_EQ(handled_, 0);
}

// Issue 20: the peer node's gateway reaches the engine over TCP; mutual TLS with the TCP listener's
// own pins is the whole authentication.
class TcpChannelTest : public ChannelTest {
 protected:
  // `peer_pins`: the client certificates the TCP listener accepts.
  // A Unix socket `name`.sock for this user and a TCP listener on a free loopback port.
  ChannelServerOptions TcpOptions(const std::string& name, std::vector<std::string> peer_pins) {
    ChannelServerOptions o;
    o.socket_path = dir_.Sub(name + ".sock");
    o.allowed_uids = {::getuid()};
    o.identity = {dir_.Sub("creds/engine.crt"), dir_.Sub("creds/engine.key"), {client_fp_}};
    o.tcp_listen = "127.0.0.1:0";
    o.tcp_client_fingerprints = std::move(peer_pins);
    return o;
  }
  std::unique_ptr<ChannelServer> StartTcp(const std::string& name,
                                          std::vector<std::string> peer_pins,
                                          RequestHandler handler,
                                          size_t max_frame = engine::api::kMaxFrameSize) {
    ChannelServerOptions o = TcpOptions(name, std::move(peer_pins));
    o.max_frame_size = max_frame;
    auto s = ChannelServer::Start(o, std::move(handler));
    EXPECT_TRUE(s) << s.error().ToString();
    return s ? std::move(*s) : nullptr;
  }
  RequestHandler Answer(const std::string& who, std::atomic<int>& count) {
    return [who, &count](const engine::api::Request&, const PeerInfo& peer) {
      ++count;
      EXPECT_EQ(peer.uid, static_cast<uid_t>(-1));  // a TCP peer has no uid
      EXPECT_TRUE(peer.address.starts_with("127.0.0.1:")) << peer.address;
      return engine::api::Response(
          EngineError{EngineErrorKind::kNotFound, "", "", "answered by " + who});
    };
  }
  static std::string Tcp(const ChannelServer& s) {
    return "tcp:127.0.0.1:" + std::to_string(s.tcp_port());
  }
  engine::api::EngineClientOptions ClientOptions(std::vector<std::string> endpoints,
                                                 const std::string& side = "creds") {
    engine::api::EngineClientOptions o;
    o.endpoints = std::move(endpoints);
    o.client_cert_path = dir_.Sub(side + "/client.crt");
    o.client_key_path = dir_.Sub(side + "/client.key");
    o.engine_fingerprint = engine_fp_;
    o.timeout_ms = 2000;
    return o;
  }
  std::string OtherClientFp() {
    return *engine::api::CertificateFileFingerprint(dir_.Sub("other/client.crt"));
  }
};

TEST_F(TcpChannelTest, PinnedPeerClientIsServedOverTcp) {
  std::atomic<int> count{0};
  // The TCP listener pins the peer's certificate ("other"), not the local client's.
  auto server = StartTcp("engine", {OtherClientFp()}, Answer("tcp", count));
  ASSERT_TRUE(server);
  ASSERT_NE(server->tcp_port(), 0);
  auto client = engine::api::EngineClient::Connect(ClientOptions({Tcp(*server)}, "other"));
  ASSERT_TRUE(client) << client.error().ToString();
  auto resp = client->GetCertificate({"0a", {}});
  ASSERT_TRUE(resp) << resp.error().ToString();
  EXPECT_EQ(std::get<EngineError>(*resp).detail, "answered by tcp");
  EXPECT_EQ(count, 1);
  EXPECT_EQ(server->counters().tcp_accepted, 1u);
}

TEST_F(TcpChannelTest, ClientPinnedOnlyOnTheUnixSocketIsRefusedOverTcp) {
  std::atomic<int> count{0};
  auto server = StartTcp("engine", {OtherClientFp()}, Answer("tcp", count));
  ASSERT_TRUE(server);
  auto client = engine::api::EngineClient::Connect(ClientOptions({Tcp(*server)}, "creds"));
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, ErrorCode::kPermissionDenied) << client.error().ToString();
  for (int i = 0; i < 50 && server->counters().handshake_failed == 0; ++i) ::usleep(10000);
  EXPECT_EQ(server->counters().handshake_failed, 1u);
  EXPECT_EQ(server->counters().accepted, 0u);
  EXPECT_EQ(count, 0);
  // The same certificate still opens the Unix socket (its own pins).
  auto local =
      engine::api::EngineClient::Connect(ClientOptions({dir_.Sub("engine.sock")}, "creds"));
  ASSERT_TRUE(local) << local.error().ToString();
}

TEST_F(TcpChannelTest, OversizedFrameIsRefusedOverTcp) {
  std::atomic<int> count{0};
  auto server = StartTcp("engine", {OtherClientFp()}, Answer("tcp", count), /*max_frame=*/4096);
  ASSERT_TRUE(server);
  auto client = engine::api::EngineClient::Connect(ClientOptions({Tcp(*server)}, "other"));
  ASSERT_TRUE(client) << client.error().ToString();
  auto answer = client->CallRawForTest(std::string(5000, ' '));
  ASSERT_TRUE(answer) << answer.error().ToString();
  auto json = nlohmann::json::parse(*answer);
  EXPECT_EQ(json["body"]["kind"], "bad_request");
  EXPECT_NE(json["body"]["detail"].get<std::string>().find("exceeds the limit of 4096"),
            std::string::npos);
  EXPECT_EQ(server->counters().oversized, 1u);
  EXPECT_EQ(count, 0);
}

TEST_F(TcpChannelTest, PeerListenNeedsItsOwnPins) {
  ChannelServerOptions o = TcpOptions("nopins", {});
  auto s = ChannelServer::Start(o, [](const engine::api::Request&, const PeerInfo&) {
    return engine::api::Response(EngineError{});
  });
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("no pinned peer client certificate"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("nopins.sock")));
}

// The gateway's client across a pair: a standby, an endpoint where nothing listens and the active
// engine; it moves on from the first two, then starts at the active one.
TEST_F(TcpChannelTest, ClientFailsOverFromStandbyAndDownToTheActiveEngine) {
  std::atomic<int> standby_count{0}, active_count{0};
  auto standby =
      StartTcp("standby", {client_fp_}, [&](const engine::api::Request&, const PeerInfo&) {
        ++standby_count;
        return engine::api::Response(
            EngineError{EngineErrorKind::kUnavailable, "ACME_CA_ERROR", "",
                        "engine standby: node-a holds the lease engine-production"});
      });
  auto active = StartTcp("active", {client_fp_}, Answer("active", active_count));
  ASSERT_TRUE(standby && active);
  const std::string down =
      "tcp:127.0.0.1:23001";  // nothing listens there (this helper's port range)
  auto client =
      engine::api::EngineClient::Connect(ClientOptions({Tcp(*standby), down, Tcp(*active)}));
  ASSERT_TRUE(client) << client.error().ToString();
  auto first = client->GetCertificate({"01", {}});
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(std::get<EngineError>(*first).detail, "answered by active");
  EXPECT_EQ(standby_count, 1);
  EXPECT_EQ(client->current_endpoint(), Tcp(*active));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->GetCertificate({"02", {}}));
  EXPECT_EQ(standby_count, 1);  // later calls start at the active engine
  EXPECT_EQ(active_count, 4);

  // The active node dies: its endpoint fails, the other is a standby, the third is down: the
  // caller gets the standby's answer (the gateway's 503), not a transport error.
  active->Stop();
  auto none = client->GetCertificate({"03", {}});
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_TRUE(engine::api::EngineClient::IsStandbyAnswer(*none));
  EXPECT_EQ(standby_count, 2);
}

TEST_F(TcpChannelTest, OneEndpointGetsTheStandbyAnswerAndEveryEndpointDownIsAnError) {
  std::atomic<int> standby_count{0};
  auto standby =
      StartTcp("standby", {client_fp_}, [&](const engine::api::Request&, const PeerInfo&) {
        ++standby_count;
        return engine::api::Response(
            EngineError{EngineErrorKind::kUnavailable, "", "", "engine standby: x"});
      });
  ASSERT_TRUE(standby);
  auto client = engine::api::EngineClient::Connect(ClientOptions({Tcp(*standby)}));
  ASSERT_TRUE(client);
  auto resp = client->GetCertificate({"01", {}});
  ASSERT_TRUE(resp);
  EXPECT_TRUE(engine::api::EngineClient::IsStandbyAnswer(*resp));
  auto unreachable = engine::api::EngineClient::Connect(
      ClientOptions({"tcp:127.0.0.1:23001", dir_.Sub("absent.sock")}));
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().code, ErrorCode::kUnavailable);
}

// A connection from the network that never completes its handshake holds a TCP slot only: the
// local gateway's Unix socket keeps its own.
TEST_F(TcpChannelTest, SilentTcpConnectionsNeverTakeTheLocalSlots) {
  ChannelServerOptions o = TcpOptions("capped", {client_fp_});
  o.max_connections = 2;
  o.max_tcp_connections = 1;
  std::atomic<int> count{0};
  auto s = ChannelServer::Start(o, [&](const engine::api::Request&, const PeerInfo&) {
    ++count;
    return engine::api::Response(EngineError{EngineErrorKind::kNotFound, "", "", "x"});
  });
  ASSERT_TRUE(s) << s.error().ToString();
  int silent = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((*s)->tcp_port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  for (int i = 0; i < 100 && (*s)->counters().too_many == 0; ++i) {
    auto refused = engine::api::EngineClient::Connect(ClientOptions({Tcp(**s)}));
    EXPECT_FALSE(refused);
    if ((*s)->counters().too_many == 0) ::usleep(10000);
  }
  EXPECT_EQ((*s)->counters().too_many, 1u);
  auto local = engine::api::EngineClient::Connect(ClientOptions({dir_.Sub("capped.sock")}));
  ASSERT_TRUE(local) << local.error().ToString();
  ASSERT_TRUE(local->GetCertificate({"01", {}}));
  EXPECT_EQ(count, 1);
  ::close(silent);
}

TEST(ChannelEndpoint, ParsesHostPortAndEndpoints) {
  auto v4 = engine::api::ParseHostPort("10.0.0.2:7443");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "10.0.0.2");
  EXPECT_EQ(v4->port, 7443);
  auto v6 = engine::api::ParseHostPort("[::1]:7443");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  for (const char* bad : {"10.0.0.2", ":7443", "::1:7443", "h:0", "h:70000", "h:x1", "[::1:7443"})
    EXPECT_FALSE(engine::api::ParseHostPort(bad)) << bad;
  EXPECT_TRUE(engine::api::CheckEndpoint("/run/ca-engine/engine.sock"));
  EXPECT_TRUE(engine::api::CheckEndpoint("tcp:node-b.lan:7443"));
  EXPECT_FALSE(engine::api::CheckEndpoint("tcp:node-b.lan"));
  EXPECT_FALSE(engine::api::CheckEndpoint("engine.sock"));
}

}  // namespace
}  // namespace ca::engine
