// ACME resource statuses (RFC 8555 §7.1.6) as enums, with their one string form each: the same
// strings on the wire and in the gateway store (the RA CLI reads account records).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace ca::gateway {

enum class AccountStatus { kValid, kDeactivated, kRevoked };
enum class OrderStatus { kPending, kReady, kProcessing, kValid, kInvalid };
enum class AuthzStatus { kPending, kValid, kInvalid, kDeactivated, kExpired, kRevoked };
enum class ChallengeStatus { kPending, kProcessing, kValid, kInvalid };

std::string StatusName(AccountStatus s);
std::string StatusName(OrderStatus s);
std::string StatusName(AuthzStatus s);
std::string StatusName(ChallengeStatus s);

// nullopt for a string that is not a status of that resource.
std::optional<AccountStatus> ParseAccountStatus(std::string_view text);
std::optional<OrderStatus> ParseOrderStatus(std::string_view text);
std::optional<AuthzStatus> ParseAuthzStatus(std::string_view text);
std::optional<ChallengeStatus> ParseChallengeStatus(std::string_view text);

// JSON as the status string; from_json throws nlohmann::json::other_error on an unknown string
// (the store turns that into kCorrupt).
void to_json(nlohmann::json& j, AccountStatus s);
void to_json(nlohmann::json& j, OrderStatus s);
void to_json(nlohmann::json& j, AuthzStatus s);
void to_json(nlohmann::json& j, ChallengeStatus s);
void from_json(const nlohmann::json& j, AccountStatus& s);
void from_json(const nlohmann::json& j, OrderStatus& s);
void from_json(const nlohmann::json& j, AuthzStatus& s);
void from_json(const nlohmann::json& j, ChallengeStatus& s);

}  // namespace ca::gateway
