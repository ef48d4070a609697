#include "engine/channel_server.h"

#include <gtest/gtest.h>
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
      return engine::api::Response(EngineError{EngineErrorKind::kNotFound, "", "", "no " + get.serial_hex});
    });
    ASSERT_TRUE(s) << s.error().ToString();
    server_ = std::move(*s);
  }

  Result<EngineClient> Connect(const std::string& side = "creds", const std::string& engine_fp = "") {
    return EngineClient::Connect(dir_.Sub("engine.sock"), dir_.Sub(side + "/client.crt"),
                                 dir_.Sub(side + "/client.key"), engine_fp.empty() ? engine_fp_ : engine_fp);
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
  EXPECT_NE(json["body"]["detail"].get<std::string>().find("exceeds the limit of 4096"), std::string::npos);
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
  for (std::string bad : {std::string("{not json"), std::string("[1,2]"),
                          std::string(R"({"v":1,"type":"issue","body":{"request_id":"x"}})"),
                          std::string(R"({"v":9,"type":"get_certificate","body":{"serial_hex":"01","environment":"production"}})")}) {
    auto answer = client->CallRawForTest(bad);
    ASSERT_TRUE(answer) << answer.error().ToString();
    auto json = nlohmann::json::parse(*answer);
    EXPECT_EQ(json["body"]["kind"], "bad_request") << bad;
  }
  EXPECT_EQ(server_->counters().malformed, 4u);
  EXPECT_EQ(handled_, 0);
}

}  // namespace
}  // namespace ca::engine
