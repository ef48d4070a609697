// Test support: a SoftHSM token in a private temp dir. Sets SOFTHSM2_CONF for the process (the
// module reads it at C_Initialize), initialises a token with known PINs via InitToken, writes the
// user PIN to a 0400 file, and removes everything on destruction. Never touches /var/lib/softhsm.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "common/secret.h"
#include "hsm/token.h"

namespace ca::hsm::testing {

// Writes DIR/softhsm2.conf (tokendir DIR/tokens) unless it exists; returns its path.
Result<std::string> WriteSoftHsmConfig(const std::string& dir);

class SoftHsmFixture {
 public:
  static constexpr const char* kUserPin = "user-pin-1234";
  static constexpr const char* kSoPin = "so-pin-5678";

  // Creates the temp dir and the token labelled `token_label`. SoftHSM reads SOFTHSM2_CONF only
  // in C_Initialize, so this fails (kFailedPrecondition) while any Token of this process is
  // still open; use InitAnotherToken for a second token in the same fixture.
  static Result<std::unique_ptr<SoftHsmFixture>> Create(
      const std::string& token_label = "test-token");
  ~SoftHsmFixture();
  SoftHsmFixture(const SoftHsmFixture&) = delete;
  SoftHsmFixture& operator=(const SoftHsmFixture&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& conf_path() const { return conf_path_; }
  const std::string& token_label() const { return token_label_; }
  const std::string& module_path() const { return module_path_; }
  const std::string& user_pin_file() const { return user_pin_file_; }  // mode 0400
  Secret user_pin() const { return Secret(kUserPin); }
  Secret so_pin() const { return Secret(kSoPin); }

  // Initialises one more token (same PINs) next to the first one.
  Status InitAnotherToken(const std::string& label) const;

  // A config for this token; Open with user_pin().
  TokenConfig config(size_t pool_size = 2) const;
  Result<std::shared_ptr<Token>> OpenToken(size_t pool_size = 2) const;

 private:
  SoftHsmFixture() = default;
  std::string dir_, conf_path_, token_label_, module_path_, user_pin_file_;
};

}  // namespace ca::hsm::testing
