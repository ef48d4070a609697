// The order state machine shared by the handlers that touch orders (orders, finalize,
// authorizations, challenge validation): time-driven transitions, pending → ready derived from
// the authorizations, and the order's JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "gateway/handler_context.h"

namespace ca::gateway {

// Applies expiry and derives pending → ready / invalid from the authorizations.
Result<OrderRecord> RefreshOrder(const HandlerContext& s, StoreTxn& txn, OrderRecord order,
                                 bool* changed);
// The order as RefreshOrder sees it now, the change stored (re-derived inside the write) when
// there is one; nullopt when there is no such order.
Result<std::optional<OrderRecord>> CurrentOrder(const HandlerContext& s, const std::string& id);
nlohmann::json OrderJson(const HandlerContext& s, const OrderRecord& o);

}  // namespace ca::gateway
