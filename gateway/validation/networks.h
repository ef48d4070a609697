// Which addresses the validator may connect to (http-01, its redirects, tls-alpn-01). For an
// internal CA the LAN is a legitimate target, so the operator lists the networks the validator may
// dial (validation.allowed_networks); everything else is refused. Some addresses are refused even
// inside a listed network unless a listed network lies within them: loopback (127.0.0.0/8, ::1),
// link-local (169.254.0.0/16, fe80::/10) and the appliance's own interface addresses (only a /32 or
// /128 naming the address itself lists one). Unspecified, multicast and broadcast are never dialed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ca::gateway::validation {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4

  // Textual IPv4 or IPv6 (no zone, no brackets); an IPv4-mapped IPv6 address (::ffff:a.b.c.d)
  // becomes the IPv4 address, so it cannot slip past the IPv4 rules.
  static std::optional<IpAddress> Parse(std::string_view text);
  std::string ToString() const;
  int bits() const { return v6 ? 128 : 32; }
  bool operator==(const IpAddress&) const = default;
};

struct IpNetwork {
  IpAddress base;
  int prefix = 0;

  // "10.0.0.0/8", "fd00::/8", or a bare address (/32, /128). Host bits must be zero.
  static Result<IpNetwork> Parse(std::string_view text);
  bool Contains(const IpAddress& address) const;
  std::string ToString() const;
};

// nullopt when `address` may be dialed; otherwise why not, for a problem detail.
// `local` is the appliance's own addresses (LocalInterfaceAddresses()).
std::optional<std::string> RefuseDial(const IpAddress& address, std::span<const IpNetwork> allowed,
                                      std::span<const IpAddress> local);

// The addresses of this host's interfaces (getifaddrs), read at each call: they can change.
std::vector<IpAddress> LocalInterfaceAddresses();
// The same, read again only when the kernel has announced an address change since the last read
// (NETLINK_ROUTE address notifications, subscribed before the first read; lost notifications or
// no netlink socket: read at each call). What a validation dials against.
std::vector<IpAddress> CachedLocalInterfaceAddresses();

}  // namespace ca::gateway::validation
