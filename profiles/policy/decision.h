// The one policy decision (ACME-2, CA-2): may this ACME account get a certificate of this profile
// for these names, according to one policy snapshot? Pure: the same snapshot, facts, names and time
// always give the same answer. Used by the gateway at newOrder and finalize and by the engine
// before every signature.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "profiles/policy/model.h"
#include "profiles/policy/profile_id.h"
#include "profiles/policy/store.h"

namespace ca::profiles::policy {

// The operator's result codes (technical document, "Result code"), plus PROFILE_NOT_ALLOWED for a
// requested profile that the account may not use and STAGING_NOT_ALLOWED for an account the RA did
// not admit to the staging service (the document has no code for either). Decide()
// returns only the policy codes; the others (CAA, rate limits, credit, documents, internal
// errors) exist so that the gateway and the engine name every failure with the same enum.
enum class ResultCode {
  kOk,
  kDeactivatedAccount,
  kDeactivatedExternalAccount,
  kDomainNotAssociated,
  kDomainNotFound,
  kExpiredAccount,
  kExpiredExternalAccount,
  kExternalAccountNotFound,
  kInvalidDnsCaa,
  kInvalidDomain,
  kInvalidDomainForWildcardProfile,
  kInvalidProfileForWildcard,
  kNoDocumentFormFound,
  kNoValidOrganizationDocumentFound,
  kNotSameOrganization,
  kOrganizationIsNotValid,
  kOutOfCredit,
  kPendingExternalAccount,
  kRateLimited,
  kRevokedAccount,
  kRevokedExternalAccount,
  kSuspendedAccount,
  kSuspendedExternalAccount,
  kUnauthorizedDomain,
  kAcmeOrderNotRead,
  kAcmeRequestNotFound,
  kAcmeOrderFinalizeError,
  kAcmeCaError,
  kAcmeOtherError,
  kProfileNotAllowed,
  kStagingNotAllowed,  // not in the document either: the staging service is per account (CA-8)
};

std::string_view ResultCodeName(ResultCode code);  // "DOMAIN_NOT_FOUND", "OK"
std::optional<ResultCode> ParseResultCode(std::string_view name);

struct Decision {
  ResultCode code = ResultCode::kOk;
  std::string name;    // the first offending identifier, empty for account-level refusals
  std::string detail;  // one line for humans
  bool ok() const { return code == ResultCode::kOk; }
};

// What the caller knows about the ACME account from its own store (the gateway's `accounts`).
struct AccountFacts {
  std::string acme_account_id;
  std::string external_account_kid;
  ProfileId profile = ProfileId::kSsl;  // recorded at account creation
  bool client_deactivated = false;      // the client deactivated its account (RFC 8555 §7.3.6)
  // The request is for the staging service and the operator opened it per account: the external
  // account must have `staging` (else STAGING_NOT_ALLOWED).
  bool staging_grant_required = false;
};

Decision Decide(const PolicySnapshot& snapshot, const AccountFacts& account,
                std::span<const std::string> names, ProfileId requested_profile, int64_t now_unix);

// The profile the account uses: the RA's override if set, else the one recorded at creation.
ProfileId EffectiveProfile(const PolicySnapshot& snapshot, const AccountFacts& account);

// The domain entry of the external account that authorises `name` (normalised) under `profile`:
// the exact entry, else (never for SSL_RGS) the nearest parent entry with include_subdomains.
// Wildcard names match only wildcard entries. Used by Decide and by the gateway to know which DCV
// methods an identifier may use.
std::optional<DomainEntry> FindAuthorizingDomain(const PolicyReader& reader, std::string_view kid,
                                                 std::string_view name, ProfileId profile);

}  // namespace ca::profiles::policy
