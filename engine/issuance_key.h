// The keys under which the engine records an issuance in the CA store's `requests` table, so that
// a finalize is idempotent per ACME order: a retry for the same order (another CSR, another policy
// version, another connection) gets the certificate already signed for that order, and one order
// never yields two certificates. Requests without an order id (none from the gateway) keep the
// older request_id key, whose content must not change.
#pragma once

#include <string>
#include <string_view>

namespace ca::engine {

struct IssuanceKey {
  std::string key;         // the `requests` table key: one per order, else the request_id
  bool per_order = false;  // true: any content replays the order's certificate
};

// "order\n<order id>" (a request_id never contains a newline, so the two kinds never collide).
IssuanceKey IssuanceKeyOf(std::string_view order_id, std::string_view request_id);

}  // namespace ca::engine
