// Small helpers shared by the CaInstance source files (issuance.cpp, revocation.cpp,
// status_jobs.cpp, ca_instance.cpp); not part of the engine's interface.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "crl_ocsp/freshness.h"
#include "engine/api/contract.h"
#include "pki/time.h"

namespace ca::engine::instance_util {

inline int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline engine::api::Response Refuse(engine::api::EngineErrorKind kind, std::string detail, std::string result_code = "",
                                   std::string name = "") {
  return engine::api::Response(
      engine::api::EngineError{kind, std::move(result_code), std::move(name), std::move(detail)});
}

}  // namespace ca::engine::instance_util
