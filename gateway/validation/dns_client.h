// The validator's DNS client is the CA's one (dns/dns_client.h, shared with ca-ra's CAA check):
// its names, as the validation code has always used them.
#pragma once

#include "dns/dns_client.h"

namespace ca::gateway::validation {

using ca::dns::CaaRecord;
using ca::dns::DnsAnswer;
using ca::dns::DnsClient;
using ca::dns::DnsStatus;
using ca::dns::DnsStatusName;
using ca::dns::NormalizeDnsName;
using ca::dns::ParseResolverAddress;
using ca::dns::ResolverAddress;

}  // namespace ca::gateway::validation
