// Internal to pki/: the certificate linter's tables (which extensions each role may and must
// carry, the rule name of each extension) and the small ASN.1 readers it uses.
#pragma once

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "pki/lint.h"

namespace ca::pki::lint_rules {

std::string Text(const ASN1_STRING* s);
std::string Oid(const ASN1_OBJECT* obj);
std::optional<int64_t> Seconds(const ASN1_TIME* t);
ossl::Bytes NameDer(const X509_NAME* name);

// The extensions each role may carry, and those it must.
struct RoleExtensions {
  std::set<int> allowed;
  std::vector<int> required;  // in the order their absence is reported
};
// `from_request`: a leaf linted against the exact expectations of an issuance request.
RoleExtensions ExtensionsOf(CertRole role, bool from_request);
// The finding's rule name for an extension ("key_usage", ...).
const char* RuleOf(int nid);

}  // namespace ca::pki::lint_rules
