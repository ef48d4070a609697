#include "engine/api/client.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <vector>

#include "engine/api/channel.h"

namespace ca::engine::api {

namespace {

// The connections to one endpoint.
struct Pool {
  std::string endpoint;
  const EngineClientOptions* options = nullptr;
  SSL_CTX* ctx = nullptr;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<TlsConnection> idle;
  size_t open = 0;  // idle + in use

  Result<TlsConnection> Acquire() {
    std::unique_lock lock(mu);
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options->timeout_ms);
    while (idle.empty() && open >= options->max_connections) {
      if (cv.wait_until(lock, deadline) == std::cv_status::timeout) {
        return Fail(ErrorCode::kUnavailable, "engine client: no free connection to " + endpoint);
      }
    }
    if (!idle.empty()) {
      TlsConnection conn = std::move(idle.back());
      idle.pop_back();
      return conn;
    }
    ++open;
    lock.unlock();
    auto conn = TlsConnection::Connect(endpoint, ctx, options->timeout_ms);
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
      CA_TRY_STATUS(conn.SetReadTimeout(options->timeout_ms));
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

}  // namespace

struct EngineClient::Impl {
  EngineClientOptions options;
  SslCtxPtr ctx;
  std::vector<std::unique_ptr<Pool>> pools;  // one per endpoint, in the configured order
  std::atomic<size_t> preferred{0};          // the endpoint that last answered (not as a standby)
};

EngineClient::EngineClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EngineClient::EngineClient(EngineClient&&) noexcept = default;
EngineClient& EngineClient::operator=(EngineClient&&) noexcept = default;
EngineClient::~EngineClient() = default;

Result<EngineClient> EngineClient::Connect(const std::string& socket_path,
                                           const std::string& client_cert_path,
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
  if (options.max_connections == 0)
    return Fail(ErrorCode::kInvalidArgument, "engine client: max_connections is 0");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (impl->options.endpoints.empty()) impl->options.endpoints = {options.socket_path};
  ChannelIdentity identity{
      options.client_cert_path, options.client_key_path, {options.engine_fingerprint}};
  for (const auto& fp : options.more_engine_fingerprints) identity.pinned_peer_sha256.push_back(fp);
  impl->ctx = CA_TRY(MakeChannelContext(identity, /*server=*/false));
  for (const auto& endpoint : impl->options.endpoints) {
    auto pool = std::make_unique<Pool>();
    pool->endpoint = endpoint;
    pool->options = &impl->options;
    pool->ctx = impl->ctx.get();
    impl->pools.push_back(std::move(pool));
  }
  std::optional<Error> last;
  for (size_t i = 0; i < impl->pools.size(); ++i) {
    auto first =
        TlsConnection::Connect(impl->pools[i]->endpoint, impl->ctx.get(), options.timeout_ms);
    if (!first) {
      last = first.error();
      continue;
    }
    impl->pools[i]->open = 1;
    impl->pools[i]->idle.push_back(std::move(*first));
    impl->preferred = i;
    return EngineClient(std::move(impl));
  }
  return std::unexpected(*last);
}

bool EngineClient::IsStandbyAnswer(const Response& response) {
  const auto* error = std::get_if<EngineError>(&response);
  return error != nullptr && error->kind == EngineErrorKind::kUnavailable &&
         error->detail.starts_with(kStandbyDetailPrefix);
}

Result<Response> EngineClient::Call(const Request& request) {
  std::string payload = RequestToJson(request).dump();
  const size_t n = impl_->pools.size();
  const size_t start = impl_->preferred.load();
  std::optional<Response> standby;
  std::optional<Error> failed;
  for (size_t i = 0; i < n; ++i) {
    const size_t at = (start + i) % n;
    auto answer = impl_->pools[at]->RoundTrip(payload);
    if (!answer) {
      failed = answer.error();  // down or unreachable: the next endpoint
      continue;
    }
    nlohmann::json json = nlohmann::json::parse(*answer, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) return Fail(ErrorCode::kCorrupt, "engine answer is not JSON");
    auto response = ResponseFromJson(json);
    if (!response) return Fail(ErrorCode::kCorrupt, "engine answer: " + response.error().message);
    if (n > 1 && IsStandbyAnswer(*response)) {
      standby = std::move(*response);  // not the active engine: the next endpoint
      continue;
    }
    impl_->preferred = at;
    return std::move(*response);
  }
  if (standby) return std::move(*standby);
  return std::unexpected(*failed);
}

std::string EngineClient::current_endpoint() const {
  return impl_->pools[impl_->preferred.load()]->endpoint;
}

Result<std::string> EngineClient::CallRawForTest(std::string_view payload) {
  return impl_->pools[impl_->preferred.load()]->RoundTrip(payload);
}

}  // namespace ca::engine::api
