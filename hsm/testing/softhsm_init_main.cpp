// ca-softhsm-init --dir DIR --label L --so-pin-file F --pin-file F [--module PATH]
// Creates DIR/softhsm2.conf (tokendir DIR/tokens) if missing, initialises a token labelled L with
// the PINs read from the files, and prints the SOFTHSM2_CONF path on stdout. For shell tests.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "common/secret.h"
#include "hsm/testing/softhsm_fixture.h"
#include "hsm/token.h"

#ifndef CA_DEFAULT_PKCS11_MODULE
#define CA_DEFAULT_PKCS11_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#endif

int main(int argc, char** argv) {
  const char* usage =
      "usage: ca-softhsm-init --dir DIR --label L --so-pin-file F --pin-file F [--module PATH]\n";
  std::map<std::string, std::string> args{{"--module", CA_DEFAULT_PKCS11_MODULE}};
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag != "--dir" && flag != "--label" && flag != "--so-pin-file" && flag != "--pin-file" &&
        flag != "--module") {
      std::fprintf(stderr, "ca-softhsm-init: unknown argument '%s'\n%s", argv[i], usage);
      return 2;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "ca-softhsm-init: %s needs a value\n%s", argv[i], usage);
      return 2;
    }
    args[flag] = argv[++i];
  }
  for (const char* required : {"--dir", "--label", "--so-pin-file", "--pin-file"}) {
    if (args[required].empty()) {
      std::fprintf(stderr, "ca-softhsm-init: missing %s\n%s", required, usage);
      return 2;
    }
  }
  ca::HardenProcessForSecrets();
  auto so_pin = ca::ReadSecretFile(args["--so-pin-file"]);
  if (!so_pin) {
    std::fprintf(stderr, "ca-softhsm-init: SO PIN: %s\n", so_pin.error().ToString().c_str());
    return 1;
  }
  auto pin = ca::ReadSecretFile(args["--pin-file"]);
  if (!pin) {
    std::fprintf(stderr, "ca-softhsm-init: user PIN: %s\n", pin.error().ToString().c_str());
    return 1;
  }
  auto conf = ca::hsm::testing::WriteSoftHsmConfig(args["--dir"]);
  if (!conf) {
    std::fprintf(stderr, "ca-softhsm-init: %s\n", conf.error().ToString().c_str());
    return 1;
  }
  setenv("SOFTHSM2_CONF", conf->c_str(), 1);
  auto st = ca::hsm::InitToken(args["--module"], args["--label"], *so_pin, *pin);
  if (!st) {
    std::fprintf(stderr, "ca-softhsm-init: %s\n", st.error().ToString().c_str());
    return 1;
  }
  std::printf("%s\n", conf->c_str());
  return 0;
}
