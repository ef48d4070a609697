#include "hsm/testing/softhsm_fixture.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "common/openssl.h"
#include "hsm/p11.h"

#ifndef CA_DEFAULT_PKCS11_MODULE
#define CA_DEFAULT_PKCS11_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#endif

namespace ca::hsm::testing {

Result<std::string> WriteSoftHsmConfig(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir + "/tokens", ec);
  if (ec) return Fail(ErrorCode::kIo, "creating '" + dir + "/tokens': " + ec.message());
  std::string conf = dir + "/softhsm2.conf";
  if (!std::filesystem::exists(conf)) {
    std::string text = "directories.tokendir = " + dir + "/tokens\n" +
                       "objectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n";
    CA_TRY_STATUS(ossl::WriteFileAtomic(conf, text, 0600, false));
  }
  return conf;
}

Result<std::unique_ptr<SoftHsmFixture>> SoftHsmFixture::Create(const std::string& token_label) {
  if (p11::Module::IsLoaded(CA_DEFAULT_PKCS11_MODULE)) {
    return Fail(ErrorCode::kFailedPrecondition,
                "SoftHSM is still initialised in this process (a Token is open), so a new "
                "SOFTHSM2_CONF would not be read; close every Token before creating a fixture");
  }
  std::string tmpl = (std::filesystem::temp_directory_path() / "ca-softhsm-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return Fail(ErrorCode::kIo, "mkdtemp failed");
  std::unique_ptr<SoftHsmFixture> f(new SoftHsmFixture);
  f->dir_ = tmpl;  // from here on the destructor cleans up
  f->token_label_ = token_label;
  f->module_path_ = CA_DEFAULT_PKCS11_MODULE;
  f->conf_path_ = CA_TRY(WriteSoftHsmConfig(f->dir_));
  setenv("SOFTHSM2_CONF", f->conf_path_.c_str(), 1);
  CA_TRY_STATUS(InitToken(f->module_path_, token_label, Secret(kSoPin), Secret(kUserPin)));
  f->user_pin_file_ = f->dir_ + "/user.pin";
  CA_TRY_STATUS(ossl::WriteFileAtomic(f->user_pin_file_, kUserPin, 0400, false));
  return f;
}

SoftHsmFixture::~SoftHsmFixture() {
  std::error_code ec;
  if (!user_pin_file_.empty()) chmod(user_pin_file_.c_str(), 0600);
  std::filesystem::remove_all(dir_, ec);
}

Status SoftHsmFixture::InitAnotherToken(const std::string& label) const {
  return InitToken(module_path_, label, Secret(kSoPin), Secret(kUserPin));
}

TokenConfig SoftHsmFixture::config(size_t pool_size) const {
  TokenConfig c;
  c.module_path = module_path_;
  c.token_label = token_label_;
  c.pool_size = pool_size;
  return c;
}

Result<std::shared_ptr<Token>> SoftHsmFixture::OpenToken(size_t pool_size) const {
  return Token::Open(config(pool_size), user_pin());
}

}  // namespace ca::hsm::testing
