#include "gateway/validation/remote_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace ca::gateway::validation {

namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct Body {
  std::string bytes;
  bool too_large = false;
};

size_t Collect(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<Body*>(user);
  const size_t n = size * count;
  if (body->bytes.size() + n > kMaxAgentAnswerBytes) {
    body->too_large = true;
    return 0;  // makes curl fail the transfer (CURLE_WRITE_ERROR)
  }
  body->bytes.append(data, n);
  return n;
}

AgentAnswer Unavailable(const RemoteAgent& agent, const std::string& why) {
  return {Outcome::Unavailable("agent " + agent.name + " unreachable: " + why), {}};
}

}  // namespace

AgentAnswer AskAgent(const RemoteAgent& agent, const AgentRequest& request,
                     Clock::time_point deadline) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return Unavailable(agent, "no time left before the deadline");
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Unavailable(agent, "cannot create a curl handle");
  std::unique_ptr<curl_slist, CurlDeleter> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"));
  const std::string body = EncodeAgentRequest(request);
  Body answer;
  char error[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, agent.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // never through an https_proxy from the environment
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  curl_easy_setopt(c, CURLOPT_SSLCERT, agent.client_cert_file.c_str());
  curl_easy_setopt(c, CURLOPT_SSLKEY, agent.client_key_file.c_str());
  curl_easy_setopt(c, CURLOPT_CAINFO, agent.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);  // only the configured CA, not the system store
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(left.count(), 5000)));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  const CURLcode code = curl_easy_perform(c);
  if (answer.too_large) {
    return Unavailable(agent,
                       "answer larger than " + std::to_string(kMaxAgentAnswerBytes) + " bytes");
  }
  if (code != CURLE_OK) {
    return Unavailable(agent, error[0] != '\0' ? std::string(error) : curl_easy_strerror(code));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) return Unavailable(agent, "HTTP status " + std::to_string(status));
  auto parsed = ParseAgentAnswer(answer.bytes);
  if (!parsed) return Unavailable(agent, parsed.error().message);
  return std::move(*parsed);
}

}  // namespace ca::gateway::validation
