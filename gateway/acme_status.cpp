#include "gateway/acme_status.h"

#include <array>
#include <utility>

namespace ca::gateway {

namespace {

template <class E, size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<AccountStatus, 3> kAccount = {{{AccountStatus::kValid, "valid"},
                                               {AccountStatus::kDeactivated, "deactivated"},
                                               {AccountStatus::kRevoked, "revoked"}}};
constexpr Names<OrderStatus, 5> kOrder = {{{OrderStatus::kPending, "pending"},
                                           {OrderStatus::kReady, "ready"},
                                           {OrderStatus::kProcessing, "processing"},
                                           {OrderStatus::kValid, "valid"},
                                           {OrderStatus::kInvalid, "invalid"}}};
constexpr Names<AuthzStatus, 6> kAuthz = {{{AuthzStatus::kPending, "pending"},
                                           {AuthzStatus::kValid, "valid"},
                                           {AuthzStatus::kInvalid, "invalid"},
                                           {AuthzStatus::kDeactivated, "deactivated"},
                                           {AuthzStatus::kExpired, "expired"},
                                           {AuthzStatus::kRevoked, "revoked"}}};
constexpr Names<ChallengeStatus, 4> kChallenge = {{{ChallengeStatus::kPending, "pending"},
                                                   {ChallengeStatus::kProcessing, "processing"},
                                                   {ChallengeStatus::kValid, "valid"},
                                                   {ChallengeStatus::kInvalid, "invalid"}}};

template <class E, size_t N>
std::string Name(const Names<E, N>& names, E s) {
  for (const auto& [value, name] : names)
    if (value == s) return std::string(name);
  return "unknown";  // unreachable: every enumerator is listed
}

template <class E, size_t N>
std::optional<E> Parse(const Names<E, N>& names, std::string_view text) {
  for (const auto& [value, name] : names)
    if (name == text) return value;
  return std::nullopt;
}

template <class E, size_t N>
void FromJson(const Names<E, N>& names, const nlohmann::json& j, E& s) {
  auto parsed = j.is_string() ? Parse(names, j.get<std::string>()) : std::nullopt;
  if (!parsed)
    throw nlohmann::json::other_error::create(501, "unknown ACME status " + j.dump(), &j);
  s = *parsed;
}

}  // namespace

std::string StatusName(AccountStatus s) {
  return Name(kAccount, s);
}
std::string StatusName(OrderStatus s) {
  return Name(kOrder, s);
}
std::string StatusName(AuthzStatus s) {
  return Name(kAuthz, s);
}
std::string StatusName(ChallengeStatus s) {
  return Name(kChallenge, s);
}

std::optional<AccountStatus> ParseAccountStatus(std::string_view text) {
  return Parse(kAccount, text);
}
std::optional<OrderStatus> ParseOrderStatus(std::string_view text) {
  return Parse(kOrder, text);
}
std::optional<AuthzStatus> ParseAuthzStatus(std::string_view text) {
  return Parse(kAuthz, text);
}
std::optional<ChallengeStatus> ParseChallengeStatus(std::string_view text) {
  return Parse(kChallenge, text);
}

void to_json(nlohmann::json& j, AccountStatus s) {
  j = StatusName(s);
}
void to_json(nlohmann::json& j, OrderStatus s) {
  j = StatusName(s);
}
void to_json(nlohmann::json& j, AuthzStatus s) {
  j = StatusName(s);
}
void to_json(nlohmann::json& j, ChallengeStatus s) {
  j = StatusName(s);
}
void from_json(const nlohmann::json& j, AccountStatus& s) {
  FromJson(kAccount, j, s);
}
void from_json(const nlohmann::json& j, OrderStatus& s) {
  FromJson(kOrder, j, s);
}
void from_json(const nlohmann::json& j, AuthzStatus& s) {
  FromJson(kAuthz, j, s);
}
void from_json(const nlohmann::json& j, ChallengeStatus& s) {
  FromJson(kChallenge, j, s);
}

}  // namespace ca::gateway
