#include "gateway/validation/agent/agent_server.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include <cstring>

#include "common/log.h"
#include "common/openssl.h"
#include "common/secret.h"

namespace ca::gateway::validation::agent {

struct AgentServer::State {
  const AgentConfig* config = nullptr;
  std::unique_ptr<AgentHandler> handler;
  std::string cert_pem, client_ca_pem;
  Secret key_pem;
};

namespace {

// Per-request state (MHD's con_cls): the body so far, or why it is refused.
struct Upload {
  std::string body;
  unsigned refuse_status = 0;
  std::string refuse_reason;
};

struct GnutlsCert {
  gnutls_x509_crt_t crt = nullptr;
  ~GnutlsCert() {
    if (crt != nullptr) gnutls_x509_crt_deinit(crt);
  }
};

// Empty when the client is acceptable, else why not (for the log; the client gets 403).
std::string RefuseClient(MHD_Connection* connection, const AgentConfig& config) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (info == nullptr || info->tls_session == nullptr) return "no TLS session";
  auto session = static_cast<gnutls_session_t>(info->tls_session);
  unsigned count = 0;
  const gnutls_datum_t* peers = gnutls_certificate_get_peers(session, &count);
  if (peers == nullptr || count == 0) return "no client certificate";
  gnutls_typed_vdata_st purpose{};
  purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
  purpose.data = reinterpret_cast<unsigned char*>(const_cast<char*>(GNUTLS_KP_TLS_WWW_CLIENT));
  unsigned status = 0;
  if (int rc = gnutls_certificate_verify_peers(session, &purpose, 1, &status); rc < 0)
    return std::string("client certificate not verified: ") + gnutls_strerror(rc);
  if (status != 0) {
    gnutls_datum_t text{};
    std::string why = "client certificate refused";
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) == 0) {
      why += std::string(": ") + reinterpret_cast<const char*>(text.data);
      gnutls_free(text.data);
    }
    return why;
  }
  GnutlsCert cert;
  if (gnutls_x509_crt_init(&cert.crt) < 0 ||
      gnutls_x509_crt_import(cert.crt, &peers[0], GNUTLS_X509_FMT_DER) < 0)
    return "client certificate unreadable";
  for (const std::string& name : config.client_names) {
    if (gnutls_x509_crt_check_hostname2(cert.crt, name.c_str(), 0) != 0) return {};
  }
  return "client certificate names none of client_names";
}

MHD_Result Reply(MHD_Connection* connection, unsigned status, const std::string& body) {
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, "Content-Type", "application/json");
  MHD_Result ret = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return ret;
}

std::string ErrorBody(const std::string& message) {
  return nlohmann::json{{"error", message}}.dump();
}

MHD_Result Handle(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char*, const char* upload_data, size_t* upload_data_size, void** con_cls) {
  auto* state = static_cast<AgentServer::State*>(cls);
  const AgentConfig& config = *state->config;
  auto* upload = static_cast<Upload*>(*con_cls);
  if (upload == nullptr) {  // headers only: decide what to refuse before reading any body
    upload = new Upload();
    *con_cls = upload;
    if (std::string why = RefuseClient(connection, config); !why.empty()) {
      log::Warn("agent_client_refused", {{"reason", why}});
      upload->refuse_status = 403;
      upload->refuse_reason = "client certificate required (signed by the configured CA)";
    } else if (std::strcmp(method, "POST") != 0 || std::strcmp(url, kAgentPath) != 0) {
      upload->refuse_status = 404;
      upload->refuse_reason = std::string("only POST ") + kAgentPath;
    } else if (const char* length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                                MHD_HTTP_HEADER_CONTENT_LENGTH);
               length != nullptr && std::strtoull(length, nullptr, 10) > config.max_request_bytes) {
      upload->refuse_status = 413;
    }
    if (upload->refuse_status != 0 && upload->refuse_status != 413)
      return Reply(connection, upload->refuse_status, ErrorBody(upload->refuse_reason));
    if (upload->refuse_status == 413)
      return Reply(
          connection, 413,
          ErrorBody("request larger than " + std::to_string(config.max_request_bytes) + " bytes"));
    return MHD_YES;
  }
  if (*upload_data_size != 0) {  // a piece of the body (chunked bodies carry no length)
    if (upload->body.size() + *upload_data_size > config.max_request_bytes) {
      *upload_data_size = 0;
      return Reply(
          connection, 413,
          ErrorBody("request larger than " + std::to_string(config.max_request_bytes) + " bytes"));
    }
    upload->body.append(upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  AgentHandler::Reply reply = state->handler->Handle(upload->body);
  return Reply(connection, reply.status, reply.body);
}

void Completed(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
  delete static_cast<Upload*>(*con_cls);
  *con_cls = nullptr;
}

void LogLibrary(void*, const char* format, va_list args) {
  char line[512];
  std::vsnprintf(line, sizeof line, format, args);
  log::Warn("agent_http", {{"message", std::string(line)}});
}

}  // namespace

Result<std::unique_ptr<AgentServer>> AgentServer::Start(const AgentConfig& config) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(config.port);
  if (inet_pton(AF_INET, config.listen_address.c_str(), &addr.sin_addr) != 1)
    return Fail(ErrorCode::kInvalidArgument,
                "listen_address must be IPv4: " + config.listen_address);
  std::unique_ptr<AgentServer> server(new AgentServer());
  server->state_ = std::make_unique<State>();
  State& s = *server->state_;
  s.config = &config;
  s.handler = CA_TRY(AgentHandler::Create(config));
  s.cert_pem = CA_TRY(ossl::ReadFile(config.tls_cert_file));
  s.client_ca_pem = CA_TRY(ossl::ReadFile(config.client_ca_file));
  s.key_pem = CA_TRY(ReadSecretFile(config.tls_key_file));
  // Thread per connection: a validation blocks its thread for up to max_seconds; the connection
  // limit bounds the threads.
  server->daemon_ = MHD_start_daemon(
      MHD_USE_TLS | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
          MHD_USE_ERROR_LOG,
      config.port, nullptr, nullptr, &Handle, &s, MHD_OPTION_EXTERNAL_LOGGER, &LogLibrary, nullptr,
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&addr), MHD_OPTION_HTTPS_MEM_KEY,
      s.key_pem.view().data(), MHD_OPTION_HTTPS_MEM_CERT, s.cert_pem.c_str(),
      MHD_OPTION_HTTPS_MEM_TRUST, s.client_ca_pem.c_str(), MHD_OPTION_HTTPS_PRIORITIES,
      "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_CONNECTION_TIMEOUT,
      config.idle_timeout_seconds, MHD_OPTION_CONNECTION_LIMIT, config.max_connections,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(64 * 1024),
      MHD_OPTION_NOTIFY_COMPLETED, &Completed, nullptr, MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return Fail(ErrorCode::kIo, "cannot start the agent on " + config.listen_address + ":" +
                                    std::to_string(config.port) +
                                    " (port in use, or bad TLS key/certificate/client CA)");
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info != nullptr ? info->port : config.port;
  return server;
}

AgentServer::~AgentServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

}  // namespace ca::gateway::validation::agent
