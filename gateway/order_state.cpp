// The order state machine (see order_state.h).
#include "gateway/order_state.h"

#include "pki/time.h"

namespace ca::gateway {

using nlohmann::json;

json OrderJson(const HandlerContext& s, const OrderRecord& o) {
  json ids = json::array();
  for (const auto& n : o.names) ids.push_back({{"type", "dns"}, {"value", n}});
  json authzs = json::array();
  for (const auto& a : o.authz_ids) authzs.push_back(s.Url("/acme/authz/" + a));
  json j = {{"status", o.status},
            {"expires", pki::FormatRfc3339(o.expires)},
            {"identifiers", ids},
            {"authorizations", authzs},
            {"finalize", s.Url("/acme/order/" + o.id + "/finalize")},
            {"profile", o.profile}};
  if (!o.error.is_null()) j["error"] = o.error;
  if (o.status == OrderStatus::kValid && !o.serial_hex.empty())
    j["certificate"] = s.Url("/acme/cert/" + o.serial_hex);
  return j;
}

// Applies time-driven transitions (expiry) and derives pending → ready from the authorizations.
Result<OrderRecord> RefreshOrder(const HandlerContext& s, StoreTxn& txn, OrderRecord order,
                                 bool* changed) {
  int64_t now = s.clock();
  *changed = false;
  if ((order.status == OrderStatus::kPending || order.status == OrderStatus::kReady) &&
      now > order.expires) {
    order.status = OrderStatus::kInvalid;
    order.error = ProblemToJson(MakeProblem(ProblemKind::kMalformed, "the order expired"));
    *changed = true;
    return order;
  }
  if (order.status != OrderStatus::kPending) return order;
  bool all_valid = true;
  for (const auto& aid : order.authz_ids) {
    auto authz = CA_TRY(txn.GetAuthz(aid));
    if (!authz)
      return Fail(ErrorCode::kCorrupt, "order " + order.id + " lacks authorization " + aid);
    AuthzStatus status = authz->status;
    if (status == AuthzStatus::kPending && now > authz->expires) status = AuthzStatus::kExpired;
    if (status == AuthzStatus::kValid && now > authz->expires) status = AuthzStatus::kExpired;
    if (status != AuthzStatus::kValid) all_valid = false;
    if (status == AuthzStatus::kInvalid || status == AuthzStatus::kDeactivated ||
        status == AuthzStatus::kExpired || status == AuthzStatus::kRevoked) {
      order.status = OrderStatus::kInvalid;
      if (order.error.is_null()) {
        order.error = ProblemToJson(
            MakeProblem(ProblemKind::kUnauthorized,
                        "authorization for " + authz->name + " is " + StatusName(status)));
      }
      *changed = true;
      return order;
    }
  }
  if (all_valid) {
    order.status = OrderStatus::kReady;
    *changed = true;
  }
  return order;
}

Result<std::optional<OrderRecord>> CurrentOrder(const HandlerContext& s, const std::string& id) {
  std::optional<OrderRecord> order;
  bool changed = false;
  {
    auto txn = CA_TRY(s.store.Read());
    auto stored = CA_TRY(txn.GetOrder(id));
    if (!stored) return order;
    order = CA_TRY(RefreshOrder(s, txn, std::move(*stored), &changed));
  }
  if (!changed) return order;
  // Derived from a snapshot: derive again from the state the write sees.
  CA_TRY_STATUS(s.store.Write([&](StoreTxn& txn) -> Status {
    auto stored = CA_TRY(txn.GetOrder(id));
    if (!stored) return Fail(ErrorCode::kCorrupt, "order " + id + " vanished");
    bool still_changed = false;
    order = CA_TRY(RefreshOrder(s, txn, std::move(*stored), &still_changed));
    return still_changed ? txn.PutOrder(*order) : Status{};
  }));
  return order;
}

}  // namespace ca::gateway
