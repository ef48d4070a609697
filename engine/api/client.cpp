#include "engine/api/client.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "engine/api/channel.h"

namespace ca::engine::api {

struct EngineClient::Impl {
  EngineClientOptions options;
  SslCtxPtr ctx;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<TlsConnection> idle;
  size_t open = 0;  // idle + in use

  Result<TlsConnection> Acquire() {
    std::unique_lock lock(mu);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.timeout_ms);
    while (idle.empty() && open >= options.max_connections) {
      if (cv.wait_until(lock, deadline) == std::cv_status::timeout) {
        return Fail(ErrorCode::kUnavailable, "engine client: no free connection");
      }
    }
    if (!idle.empty()) {
      TlsConnection conn = std::move(idle.back());
      idle.pop_back();
      return conn;
    }
    ++open;
    lock.unlock();
    auto conn = TlsConnection::Connect(options.socket_path, ctx.get(), options.timeout_ms);
    if (!conn) Release(std::nullopt);
    return conn;
  }

  void Release(std::optional<TlsConnection> conn) {
    std::lock_guard lock(mu);
    if (conn) {
      idle.push_back(std::move(*conn));
    } else {
      --open;
    }
    cv.notify_one();
  }

  Result<std::string> RoundTrip(std::string_view payload) {
    TlsConnection conn = CA_TRY(Acquire());
    auto answer = [&]() -> Result<std::string> {
      CA_TRY_STATUS(conn.SetReadTimeout(options.timeout_ms));
      CA_TRY_STATUS(conn.WriteFrame(payload));
      return conn.ReadFrame(kMaxFrameSize);
    }();
    if (answer) {
      Release(std::move(conn));
    } else {
      Release(std::nullopt);  // a broken or desynchronised connection is dropped
    }
    return answer;
  }
};

EngineClient::EngineClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EngineClient::EngineClient(EngineClient&&) noexcept = default;
EngineClient& EngineClient::operator=(EngineClient&&) noexcept = default;
EngineClient::~EngineClient() = default;

Result<EngineClient> EngineClient::Connect(const std::string& socket_path, const std::string& client_cert_path,
                                           const std::string& client_key_path,
                                           const std::string& engine_fingerprint) {
  EngineClientOptions options;
  options.socket_path = socket_path;
  options.client_cert_path = client_cert_path;
  options.client_key_path = client_key_path;
  options.engine_fingerprint = engine_fingerprint;
  return Connect(options);
}

Result<EngineClient> EngineClient::Connect(const EngineClientOptions& options) {
  if (options.max_connections == 0) return Fail(ErrorCode::kInvalidArgument, "engine client: max_connections is 0");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  ChannelIdentity identity{options.client_cert_path, options.client_key_path, {options.engine_fingerprint}};
  impl->ctx = CA_TRY(MakeChannelContext(identity, /*server=*/false));
  TlsConnection first = CA_TRY(TlsConnection::Connect(options.socket_path, impl->ctx.get(), options.timeout_ms));
  impl->open = 1;
  impl->idle.push_back(std::move(first));
  return EngineClient(std::move(impl));
}

Result<Response> EngineClient::Call(const Request& request) {
  std::string payload = RequestToJson(request).dump();
  std::string answer = CA_TRY(impl_->RoundTrip(payload));
  nlohmann::json json = nlohmann::json::parse(answer, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Fail(ErrorCode::kCorrupt, "engine answer is not JSON");
  auto response = ResponseFromJson(json);
  if (!response) return Fail(ErrorCode::kCorrupt, "engine answer: " + response.error().message);
  return response;
}

Result<std::string> EngineClient::CallRawForTest(std::string_view payload) {
  return impl_->RoundTrip(payload);
}

}  // namespace ca::engine::api
