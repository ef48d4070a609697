#include "tests/acme_protocol/fixture_engine.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "engine/testing/engine_process.h"
#include "engine/testing/process_checks.h"

namespace ca::tests::acme_protocol {
namespace {

volatile sig_atomic_t stop_requested = 0;

void RequestStop(int) {
  stop_requested = 1;
}

int Die(const std::string& m) {
  std::fprintf(stderr, "policy_fixture engine: %s\n", m.c_str());
  return 1;
}

// Returns once stdin reaches end of file (the test closed its end, or died) or a stop signal came.
void WaitForStop() {
  struct sigaction sa {};
  sa.sa_handler = RequestStop;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  char buf[256];
  while (stop_requested == 0) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    int ready = ::poll(&p, 1, 200);
    if (ready < 0 && errno != EINTR) return;
    if (ready > 0 && ::read(STDIN_FILENO, buf, sizeof buf) <= 0) return;
  }
}

}  // namespace

int ServeEngine(const std::string& workdir, const std::string& engine_binary,
                const PolicyWriterFn& write_policy) {
  auto setup = engine::testing::EngineSetup::Create(engine_binary);
  if (!setup) return Die(setup.error().ToString());
  engine::testing::EngineSetup& engine_setup = **setup;
  // The engine's log lives in the setup's temp dir, removed on return: shown here instead.
  auto fail = [&engine_setup](const Error& e) {
    std::fprintf(stderr, "%s", engine::testing::ReadText(engine_setup.log_path()).c_str());
    return Die(e.ToString());
  };
  auto wrap = engine_setup.MakeMacWrapKey();
  if (!wrap) return fail(wrap.error());
  std::string policy_dir = workdir + "/policy";
  auto out = write_policy(policy_dir, wrap->get());
  if (!out) return fail(out.error());
  if (auto s = engine_setup.MergeConfig(nlohmann::json{{"policy_store", policy_dir}}.dump()); !s)
    return fail(s.error());
  if (auto s = engine_setup.Start(); !s) return fail(s.error());
  auto client = engine_setup.ClientOptions();
  (*out)["policy"] = policy_dir;
  (*out)["engine"] = {{"socket", client.socket_path},
                      {"client_cert", client.client_cert_path},
                      {"client_key", client.client_key_path},
                      {"fingerprint", client.engine_fingerprint},
                      {"pid", engine_setup.pid()},
                      {"log", engine_setup.log_path()}};
  std::printf("%s\n", out->dump().c_str());
  std::fflush(stdout);
  WaitForStop();
  engine_setup.Stop();
  return 0;
}

}  // namespace ca::tests::acme_protocol
