#include "gateway/validation/testing/challtestsrv.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "gateway/validation/net.h"

namespace ca::gateway::validation::testing {

namespace {

Result<uint16_t> BindEphemeral(int type, uint16_t port) {
  int fd = socket(AF_INET, type, 0);
  if (fd < 0) return Fail(ErrorCode::kIo, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return Fail(ErrorCode::kIo, "bind");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

Result<uint16_t> FreePort() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto port = BindEphemeral(SOCK_STREAM, 0);
    if (!port) continue;
    if (BindEphemeral(SOCK_DGRAM, *port)) return *port;
  }
  return Fail(ErrorCode::kIo, "no free port on 127.0.0.1");
}

Result<std::unique_ptr<ChallTestSrv>> ChallTestSrv::Start(const std::string& default_ipv4) {
  auto srv = std::make_unique<ChallTestSrv>();
  srv->dns_port = CA_TRY(FreePort());
  srv->http01_port = CA_TRY(FreePort());
  srv->tlsalpn01_port = CA_TRY(FreePort());
  srv->management_port = CA_TRY(FreePort());
  auto at = [](uint16_t p) { return "127.0.0.1:" + std::to_string(p); };
  std::vector<std::string> args = {"pebble-challtestsrv",
                                   "-management",
                                   at(srv->management_port),
                                   "-dns01",
                                   at(srv->dns_port),
                                   "-http01",
                                   at(srv->http01_port),
                                   "-https01",
                                   "",
                                   "-tlsalpn01",
                                   at(srv->tlsalpn01_port),
                                   "-defaultIPv4",
                                   default_ipv4,
                                   "-defaultIPv6",
                                   ""};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // fork + exec rather than posix_spawn: the child asks to be killed when the test process dies, so
  // a crashed test leaves no server behind.
  const pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) return Fail(ErrorCode::kIo, "fork failed");
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
      dup2(devnull, STDOUT_FILENO);
      dup2(devnull, STDERR_FILENO);
    }
    execvp("pebble-challtestsrv", argv.data());
    _exit(127);
  }
  srv->pid = child;
  int status = 0;
  if (waitpid(child, &status, WNOHANG) == child) {
    srv->pid = -1;
    return Fail(ErrorCode::kIo, "cannot start pebble-challtestsrv (apt-get install pebble)");
  }
  for (int i = 0; i < 100; ++i) {
    auto deadline = Clock::now() + std::chrono::milliseconds(200);
    auto conn = Connection::Open("127.0.0.1", srv->management_port, "",
                                 std::chrono::milliseconds(200), deadline);
    auto dns =
        Connection::Open("127.0.0.1", srv->dns_port, "", std::chrono::milliseconds(200), deadline);
    if (conn && dns) return srv;
    if (waitpid(srv->pid, &status, WNOHANG) == srv->pid) {
      srv->pid = -1;
      return Fail(ErrorCode::kUnavailable, "pebble-challtestsrv exited at start (ports taken?)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Fail(ErrorCode::kUnavailable, "pebble-challtestsrv did not start listening");
}

ChallTestSrv::~ChallTestSrv() {
  if (pid > 0) {
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
  }
}

Status ChallTestSrv::Post(const std::string& endpoint, const nlohmann::json& body) const {
  auto deadline = Clock::now() + std::chrono::seconds(5);
  auto conn =
      CA_TRY(Connection::Open("127.0.0.1", management_port, "", std::chrono::seconds(2), deadline));
  std::string payload = body.dump();
  std::string request = "POST " + endpoint +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
                        "Content-Length: " + std::to_string(payload.size()) +
                        "\r\nConnection: close\r\n\r\n" + payload;
  CA_TRY_STATUS(conn.WriteAll(request, deadline));
  std::string response;
  char buffer[2048];
  while (true) {
    size_t n = CA_TRY(conn.Read(buffer, deadline));
    if (n == 0) break;
    response.append(buffer, n);
  }
  if (!response.starts_with("HTTP/1.1 200")) {
    return Fail(ErrorCode::kFailedPrecondition,
                "challtestsrv " + endpoint + ": " + response.substr(0, response.find("\r\n")));
  }
  return Ok();
}

}  // namespace ca::gateway::validation::testing
