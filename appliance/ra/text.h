// The human-readable lines ca-ra prints (--json prints the records instead).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "profiles/policy/model.h"

namespace ca::appliance::ra {

std::string OrgLine(const profiles::policy::Organization& o);
std::string Join(const std::vector<std::string>& v, const char* sep = ",");
std::string Profiles(const std::vector<profiles::policy::ProfileId>& ps);
std::string ExtText(const profiles::policy::ExternalAccount& a, int64_t now);
std::string DomainLine(const profiles::policy::DomainEntry& d);
std::string AcmeLine(const nlohmann::json& j);

}  // namespace ca::appliance::ra
