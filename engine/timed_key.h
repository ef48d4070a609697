// An HsmKey that times each signature of the key it wraps into the engine's metrics (HSM sign
// latency histogram, OCSP responses signed). The engine wraps its two keys before turning them
// into EVP_PKEYs (hsm::ToEvpPkey), so every signature through the seam is counted, whatever signs
// it (certificate, CRL, OCSP response).
#pragma once

#include <memory>

#include "engine/metrics.h"
#include "hsm/token.h"

namespace ca::engine {

// `metrics` must outlive the returned key.
std::shared_ptr<hsm::HsmKey> TimedKey(std::shared_ptr<hsm::HsmKey> key, SignerKey role,
                                      EngineMetrics& metrics);

}  // namespace ca::engine
