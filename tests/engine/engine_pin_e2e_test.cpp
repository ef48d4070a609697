// End to end: the real ca-engine on a SoftHSM token reached through the counting PKCS#11 shim
// (hsm/testing/pkcs11_shim.cpp). A wrong PIN ends the engine at once with exit status 77, which
// acme-ca-engine.service lists in RestartPreventExitStatus=, after exactly one C_Login and with
// one message that names the PIN file (never the PIN) and says what to do. Without the right to
// lock memory, the engine logs one memory_not_locked warning that says what it means and how to
// raise the limit, and runs on.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/testing/engine_process.h"
#include "engine/testing/process_checks.h"

namespace ca::engine {
namespace {

using nlohmann::json;
using testing::EngineSetup;
using testing::ReadText;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The log's JSON lines whose "event" is `event`.
std::vector<json> Events(const std::string& log, const std::string& event) {
  std::vector<json> out;
  for (const auto& line : Lines(log)) {
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.value("event", "") == event) out.push_back(j);
  }
  return out;
}

struct Child {
  pid_t pid = -1;
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  // The wait status, or -1 if it is still running after `timeout_ms`.
  int Wait(int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 20) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
};

// ca-engine --config `config`, stderr to `log`, with `env`; `no_memlock`: RLIMIT_MEMLOCK 0 and
// no CAP_IPC_LOCK (dropped from the bounding set, so root loses it at exec), as prlimit
// --memlock=0 does for an unprivileged user.
Child Spawn(const std::string& config, const std::string& log,
            const std::map<std::string, std::string>& env, bool no_memlock) {
  pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    if (no_memlock) {
      struct rlimit zero {
        0, 0
      };
      ::setrlimit(RLIMIT_MEMLOCK, &zero);
      ::prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0);
    }
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) ::dup2(fd, 2);
    ::execl(CA_ENGINE_BIN, CA_ENGINE_BIN, "--config", config.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return Child{pid};
}

// The setup's config with the HSM module replaced by the counting shim; returns the environment
// that points the shim at the real module and at `login_log`.
std::map<std::string, std::string> UseShim(EngineSetup& setup, const std::string& pin_source,
                                           const std::string& login_log) {
  std::string path = setup.dir().Sub("engine.json");
  json config = json::parse(ReadText(path));
  std::string real_module = config["hsm"]["module"];
  config["hsm"]["module"] = CA_PKCS11_SHIM;
  if (!pin_source.empty()) config["hsm"]["pin"] = pin_source;
  std::ofstream(path, std::ios::trunc) << config.dump(2);
  return {{"CA_PKCS11_SHIM_TARGET", real_module}, {"CA_PKCS11_SHIM_LOGIN_LOG", login_log}};
}

TEST(EnginePinE2E, WrongPinStopsAfterOneLoginWithOneMessage) {
  auto setup = EngineSetup::Create(CA_ENGINE_BIN);
  ASSERT_TRUE(setup) << setup.error().ToString();
  const std::string wrong_pin = "wrong-pin-4821";
  std::string pin_file = (*setup)->dir().Sub("wrong-user.pin");
  std::ofstream(pin_file) << wrong_pin << "\n";
  ::chmod(pin_file.c_str(), 0400);
  std::string login_log = (*setup)->dir().Sub("logins.txt");
  auto env = UseShim(**setup, "file:" + pin_file, login_log);
  std::string log = (*setup)->dir().Sub("engine-wrong-pin.log");

  Child engine = Spawn((*setup)->dir().Sub("engine.json"), log, env, false);
  int status = engine.Wait(20000);
  ASSERT_NE(status, -1) << "ca-engine still running with a wrong PIN (retrying?)\n"
                        << ReadText(log);
  ASSERT_TRUE(WIFEXITED(status)) << ReadText(log);
  EXPECT_EQ(WEXITSTATUS(status), 77) << ReadText(log);

  // Exactly one C_Login reached the module, and it was refused (CKR_PIN_INCORRECT = 0xa0).
  EXPECT_EQ(Lines(ReadText(login_log)), std::vector<std::string>{"C_Login 0xa0"});

  std::string text = ReadText(log);
  auto refused = Events(text, "hsm_pin_refused");
  ASSERT_EQ(refused.size(), 1u) << text;
  EXPECT_EQ(refused[0].value("level", ""), "error");
  std::string message = refused[0].value("error", "");
  for (const std::string& part :
       {std::string("refused the user PIN read from the PIN file ") + pin_file,
        std::string("CKR_PIN_INCORRECT"), std::string("Not retrying"), std::string("retry counter"),
        std::string("--list-token-slots"), std::string("softhsm2-util --show-slots"),
        std::string("systemctl start acme-ca-engine")}) {
    EXPECT_NE(message.find(part), std::string::npos) << "missing '" << part << "' in: " << message;
  }
  // The human line, once; the PIN itself nowhere.
  size_t human = 0;
  for (const auto& line : Lines(text)) human += line.starts_with("ca-engine: HSM token") ? 1 : 0;
  EXPECT_EQ(human, 1u) << text;
  EXPECT_EQ(text.find(wrong_pin), std::string::npos) << text;
  EXPECT_TRUE(Events(text, "engine_started").empty()) << text;
}

// The unit does not restart the engine after that exit status.
TEST(EnginePinE2E, UnitPreventsRestartAfterPinRefused) {
  std::string unit =
      ReadText(std::string(CA_SOURCE_DIR) + "/appliance/systemd/acme-ca-engine.service");
  bool found = false;
  for (const auto& line : Lines(unit)) found = found || line == "RestartPreventExitStatus=77";
  EXPECT_TRUE(found) << unit;
  // systemd parses it (an unknown key or a bad value would be reported); the binary's absence
  // outside an installed system is the only complaint allowed.
  if (::access("/usr/bin/systemd-analyze", X_OK) != 0) GTEST_SKIP() << "no systemd-analyze";
  std::string cmd = "/usr/bin/systemd-analyze verify " + std::string(CA_SOURCE_DIR) +
                    "/appliance/systemd/acme-ca-engine.service 2>&1";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r"); p != nullptr) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    ::pclose(p);
  }
  for (const auto& line : Lines(out)) {
    EXPECT_NE(line.find("is not executable"), std::string::npos) << "systemd-analyze: " << line;
  }
}

TEST(EnginePinE2E, MemoryNotLockedIsOneWarningThatSaysWhatToDo) {
  auto setup = EngineSetup::Create(CA_ENGINE_BIN);
  ASSERT_TRUE(setup) << setup.error().ToString();
  std::string login_log = (*setup)->dir().Sub("logins.txt");
  auto env = UseShim(**setup, "", login_log);
  std::string log = (*setup)->dir().Sub("engine-memlock.log");
  Child engine = Spawn((*setup)->dir().Sub("engine.json"), log, env, true);
  for (int i = 0; i < 300 && Events(ReadText(log), "engine_started").empty(); ++i) {
    ASSERT_EQ(engine.Wait(50), -1) << "ca-engine exited\n" << ReadText(log);
  }
  std::string text = ReadText(log);
  ASSERT_EQ(Events(text, "engine_started").size(), 1u) << "the engine runs on unlocked\n" << text;
  ::kill(engine.pid, SIGTERM);
  EXPECT_NE(engine.Wait(20000), -1);
  text = ReadText(log);
  auto warnings = Events(text, "memory_not_locked");
  ASSERT_EQ(warnings.size(), 1u) << text;
  EXPECT_EQ(warnings[0].value("level", ""), "warn");
  std::string message = warnings[0].value("message", "");
  for (std::string_view part :
       {"RLIMIT_MEMLOCK 0 KiB", "could be swapped to disk", "everything still works",
        "LimitMEMLOCK=infinity in acme-ca-engine.service", "ulimit -l"}) {
    EXPECT_NE(message.find(part), std::string::npos) << "missing '" << part << "' in: " << message;
  }
  // Nothing else in the log reads as an error.
  for (const auto& line : Lines(text))
    EXPECT_EQ(line.find("\"level\":\"error\""), std::string::npos) << line;
}

}  // namespace
}  // namespace ca::engine
