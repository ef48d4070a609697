#include "kv/postgres/testing/pg_cluster.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

namespace ca::kv::postgres {

Result<std::unique_ptr<PgCluster>> PgCluster::Start() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "pg-cluster-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) return Fail(ErrorCode::kIo, "mkdtemp failed for " + tmpl);
  std::unique_ptr<PgCluster> cluster(new PgCluster(tmpl));
  CA_TRY_STATUS(cluster->Script("start"));
  ::setenv("PGSERVICEFILE", cluster->service_file().c_str(), 1);
  return cluster;
}

PgCluster::~PgCluster() {
  (void)Script("quit");  // immediate shutdown: the data is thrown away
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

Status PgCluster::CreateDatabase(std::string_view name) {
  return Script("createdb", name);
}

std::string PgCluster::Location(std::string_view service, std::string_view ns) {
  return "pg:" + std::string(service) + "/" + std::string(ns);
}

Status PgCluster::Stop() {
  return Script("stop");
}
Status PgCluster::Kill() {
  return Script("kill");
}
Status PgCluster::Restart() {
  return Script("start");
}

Status PgCluster::Script(std::string_view command, std::string_view arg) const {
  std::vector<std::string> args = {CA_PG_CLUSTER_SH, std::string(command), dir_};
  if (!arg.empty()) args.emplace_back(arg);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return Fail(ErrorCode::kIo, "fork failed");
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);  // the script's stdout (PGSERVICEFILE=...) is known
    if (null >= 0) ::dup2(null, 1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Fail(ErrorCode::kIo,
                "pg_cluster.sh " + std::string(command) + " " + dir_ + " failed (see its stderr)");
  }
  return Ok();
}

}  // namespace ca::kv::postgres
