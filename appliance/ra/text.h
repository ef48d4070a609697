// The human-readable lines ca-ra prints (--json prints the records instead).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "profiles/policy/model.h"
#include "profiles/policy/store.h"

namespace ca::appliance::ra {

std::string OrgLine(const profiles::policy::Organization& o);
std::string Join(const std::vector<std::string>& v, const char* sep = ",");
std::string Profiles(const std::vector<profiles::policy::ProfileId>& ps);
std::string ExtText(const profiles::policy::ExternalAccount& a, int64_t now);
std::string DomainLine(const profiles::policy::DomainEntry& d);
// The organization's name, or "(unknown organization)": lists show names beside ids.
std::string OrgName(const profiles::policy::PolicyReader& r, const std::string& org_id);
std::string AcmeLine(const nlohmann::json& j);
// After an account-wide revocation: how many certificates it revokes, and when.
std::string RevokedCountLine(size_t certificates);

}  // namespace ca::appliance::ra
