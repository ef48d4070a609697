// The three ACME challenge checks, each run from one vantage point. Callers normally go through
// Validator (validator.h), which runs them from every vantage point and applies the quorum.
// `name` is a normalized DNS name (no "*."; for a wildcard identifier pass the base name to
// dns-01).
#pragma once

#include <string>

#include "gateway/validation/outcome.h"
#include "gateway/validation/perspective.h"

namespace ca::gateway::validation {

// RFC 8555 §8.3: GET http://<name>:<http01_port>/.well-known/acme-challenge/<token>, redirects to
// http/https on the configured ports (https certificate not checked), trimmed body must equal the
// key authorization.
Outcome CheckHttp01(const Perspective& p, const std::string& name, const std::string& token,
                    const std::string& key_authorization);

// RFC 8555 §8.4: some TXT record at _acme-challenge.<name> (CNAMEs followed) must equal
// base64url(SHA-256(key_authorization)).
Outcome CheckDns01(const Perspective& p, const std::string& name,
                   const std::string& key_authorization);

// RFC 8737: TLS with ALPN "acme-tls/1" and SNI <name> to <name>:<tlsalpn01_port>; the certificate
// has exactly one SAN, dNSName <name>, and a critical acmeIdentifier extension holding
// SHA-256(key_authorization).
Outcome CheckTlsAlpn01(const Perspective& p, const std::string& name,
                       const std::string& key_authorization);

}  // namespace ca::gateway::validation
