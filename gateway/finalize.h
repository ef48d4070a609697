// Finalizations interrupted by a gateway crash (or by a store write that failed after the engine
// signed) leave the order `processing`. ResumeFinalize asks the engine again for the order's
// certificate with the CSR recorded at ready → processing; the engine keys issuance by order, so
// this returns the certificate already signed for it (or signs it if the first call never
// arrived), and the order ends valid or invalid. The finalize handler itself is in handlers.h.
#pragma once

#include <cstdint>
#include <string>

#include "gateway/handler_context.h"

namespace ca::gateway {

// First retry delay after a failed attempt (doubled up to kResumeMaxDelaySeconds).
inline constexpr int64_t kResumeFirstDelaySeconds = 2;
inline constexpr int64_t kResumeMaxDelaySeconds = 60;

enum class ResumeResult { kDone, kRetryLater };
// kDone when the order is no longer processing (or gone); kRetryLater while the engine or the
// store is unavailable.
ResumeResult ResumeFinalize(HandlerContext& s, const std::string& order_id);

}  // namespace ca::gateway
