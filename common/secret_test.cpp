#include "common/secret.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

namespace ca {
namespace {

std::string WriteTemp(const std::string& content, mode_t mode) {
  char tmpl[] = "/tmp/secret_test_XXXXXX";
  int fd = mkstemp(tmpl);
  close(fd);
  std::ofstream(tmpl) << content;
  chmod(tmpl, mode);
  return tmpl;
}

TEST(Secret, ReadsFileAndStripsNewline) {
  auto path = WriteTemp("1234\n", 0400);
  auto s = ReadSecretFile(path);
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(s->view(), "1234");
  unlink(path.c_str());
}

TEST(Secret, RefusesGroupReadableFile) {
  auto path = WriteTemp("1234", 0640);
  auto s = ReadSecretFile(path);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kPermissionDenied);
  unlink(path.c_str());
}

TEST(Secret, EnvSourceIsRemovedFromEnvironment) {
  setenv("CA_TEST_SECRET", "abcd", 1);
  auto s = LoadSecret("env:CA_TEST_SECRET");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->view(), "abcd");
  EXPECT_EQ(getenv("CA_TEST_SECRET"), nullptr);
}

TEST(Secret, UnknownSourceIsRejected) {
  auto s = LoadSecret("argv:1234");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.error().message.find("1234"), std::string::npos);  // never echo the secret
}

}  // namespace
}  // namespace ca
