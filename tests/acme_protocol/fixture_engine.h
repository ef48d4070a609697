// The real ca-engine for the ACME protocol tests: on a SoftHSM token
// (engine/testing/engine_process.h), with the EAB MAC wrapping key made in that token, so that the
// gateway under test has the engine verify every EAB MAC in the HSM, as in production (R21).
#pragma once

#include <functional>
#include <string>

#include <openssl/evp.h>
#include <nlohmann/json.hpp>

#include "common/result.h"

namespace ca::tests::acme_protocol {

// Writes the policy store at `policy_dir`, MAC keys wrapped to `mac_wrap_public`; returns what the
// test needs to know of it (KeyIDs, MAC keys).
using PolicyWriterFn = std::function<Result<nlohmann::json>(const std::string& policy_dir,
                                                            const EVP_PKEY* mac_wrap_public)>;

// Sets up the engine (token, keys, channel credentials), makes its MAC wrapping key, has
// `write_policy` write the policy store at WORKDIR/policy wrapped to that key, starts ca-engine on
// that store and prints one JSON line: what `write_policy` returned plus "policy" and "engine"
// (socket, client_cert, client_key, fingerprint, pid: the gateway's `engine` block). Then keeps the
// engine running until stdin closes or SIGTERM/SIGINT arrives, and stops it by PID. Returns the
// exit status (0, or 1 after one line on stderr).
int ServeEngine(const std::string& workdir, const std::string& engine_binary,
                const PolicyWriterFn& write_policy);

}  // namespace ca::tests::acme_protocol
