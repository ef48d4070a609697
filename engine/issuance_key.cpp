// Per-order issuance keys (see issuance_key.h).
#include "engine/issuance_key.h"

namespace ca::engine {

IssuanceKey IssuanceKeyOf(std::string_view order_id, std::string_view request_id) {
  if (order_id.empty()) return {std::string(request_id), false};
  return {"order\n" + std::string(order_id), true};
}

}  // namespace ca::engine
