// What the engine tells its observer (engine/recorder.h: the audit file and the metrics): every
// answered request, every mass revocation it applied, and a tick each second.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "engine/api/contract.h"

namespace ca::engine {

class CaInstance;

class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  // On the request's thread, after the answer is made (before it is sent); returns the answer to
  // send: an acknowledgement whose audit entry is not durable becomes an error.
  virtual engine::api::Response OnResponse(const engine::api::Request& request,
                                           engine::api::Response response) = 0;
  // On the background thread, after ApplyMassRevocations: the mass revocations the instance has
  // recorded as applied with seq > `applied_before`.
  // Fails when their audit entries are not durable yet (the engine retries).
  virtual Status OnMassRevocations(engine::api::CaEnvironment env, CaInstance& instance,
                                   uint64_t applied_before) = 0;
  // Once a second on the background thread.
  virtual void OnTick(
      const std::map<engine::api::CaEnvironment, std::unique_ptr<CaInstance>>& instances) = 0;
};

}  // namespace ca::engine
