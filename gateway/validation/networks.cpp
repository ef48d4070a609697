#include "gateway/validation/networks.h"

#include "common/log.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

namespace ca::gateway::validation {

namespace {

IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress out;
  out.bytes[0] = a;
  out.bytes[1] = b;
  out.bytes[2] = c;
  out.bytes[3] = d;
  return out;
}

IpAddress V6(std::initializer_list<uint8_t> leading) {
  IpAddress out;
  out.v6 = true;
  std::copy(leading.begin(), leading.end(), out.bytes.begin());
  return out;
}

IpAddress V6Loopback() {
  IpAddress out;
  out.v6 = true;
  out.bytes[15] = 1;
  return out;
}

struct SpecialRange {
  IpNetwork network;
  std::string_view what;
};

// Refused unless the operator lists a network inside them (e.g. the dev appliance lists
// 127.0.0.0/8): the appliance itself, its neighbours' link-local services (cloud metadata).
const std::vector<SpecialRange>& ListableRanges() {
  static const std::vector<SpecialRange> ranges = {
      {{V4(127, 0, 0, 0), 8}, "loopback"},
      {{V6Loopback(), 128}, "loopback"},
      {{V4(169, 254, 0, 0), 16}, "link-local"},
      {{V6({0xfe, 0x80}), 10}, "link-local"},
  };
  return ranges;
}

// Never a responder, whatever is listed.
const std::vector<SpecialRange>& NeverRanges() {
  static const std::vector<SpecialRange> ranges = {
      {{V4(0, 0, 0, 0), 8}, "unspecified (\"this network\")"},
      {{V6({}), 128}, "unspecified"},
      {{V4(224, 0, 0, 0), 4}, "multicast"},
      {{V4(240, 0, 0, 0), 4}, "reserved or broadcast"},
      {{V6({0xff}), 8}, "multicast"},
  };
  return ranges;
}

// Some listed network contains `address` and lies within `range` (prefix at least as long).
bool ListedWithin(const IpAddress& address, const IpNetwork& range,
                  std::span<const IpNetwork> allowed) {
  for (const auto& n : allowed) {
    if (n.Contains(address) && n.base.v6 == range.base.v6 && n.prefix >= range.prefix) return true;
  }
  return false;
}

}  // namespace

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  IpAddress out;
  if (inet_pton(AF_INET, s.c_str(), out.bytes.data()) == 1) return out;
  if (inet_pton(AF_INET6, s.c_str(), out.bytes.data()) != 1) return std::nullopt;
  out.v6 = true;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(out.bytes.data(), kMapped, sizeof kMapped) == 0) {
    return V4(out.bytes[12], out.bytes[13], out.bytes[14], out.bytes[15]);
  }
  return out;
}

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text);
  return text;
}

Result<IpNetwork> IpNetwork::Parse(std::string_view text) {
  auto bad = [&](std::string why) {
    return Fail(ErrorCode::kInvalidArgument, "network '" + std::string(text) + "': " + why);
  };
  std::string_view address_text = text.substr(0, text.find('/'));
  auto address = IpAddress::Parse(address_text);
  // An IPv4-mapped form would silently change the prefix's meaning.
  if (!address || (!address->v6 && address_text.find(':') != std::string_view::npos)) {
    return bad("expected ADDRESS or ADDRESS/PREFIX (IPv4 or IPv6)");
  }
  IpNetwork out{*address, address->bits()};
  if (address_text.size() != text.size()) {
    std::string_view digits = text.substr(address_text.size() + 1);
    int prefix = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || prefix < 0 ||
        prefix > out.base.bits()) {
      return bad("prefix length must be 0-" + std::to_string(out.base.bits()));
    }
    out.prefix = prefix;
  }
  IpNetwork masked = out;
  for (int bit = out.prefix; bit < out.base.bits(); ++bit) {
    masked.base.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  if (masked.base != out.base) {
    return bad("host bits are set (did you mean " + masked.ToString() + "?)");
  }
  return out;
}

bool IpNetwork::Contains(const IpAddress& address) const {
  if (address.v6 != base.v6) return false;
  const int full = prefix / 8;
  if (std::memcmp(address.bytes.data(), base.bytes.data(), static_cast<size_t>(full)) != 0)
    return false;
  if (prefix % 8 == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff00u >> (prefix % 8));
  return (address.bytes[full] & mask) == (base.bytes[full] & mask);
}

std::string IpNetwork::ToString() const {
  return base.ToString() + "/" + std::to_string(prefix);
}

std::optional<std::string> RefuseDial(const IpAddress& address, std::span<const IpNetwork> allowed,
                                      std::span<const IpAddress> local) {
  for (const auto& range : NeverRanges()) {
    if (range.network.Contains(address)) return "it is a " + std::string(range.what) + " address";
  }
  bool listed = false;
  for (const auto& n : allowed) listed = listed || n.Contains(address);
  if (!listed) return "it is not in the validator's allowed networks";
  for (const auto& range : ListableRanges()) {
    if (!range.network.Contains(address)) continue;
    if (ListedWithin(address, range.network, allowed)) return std::nullopt;  // e.g. dev appliance
    return "it is a " + std::string(range.what) + " address (" + range.network.ToString() +
           " is not listed in the allowed networks)";
  }
  for (const auto& own : local) {
    if (own == address && !ListedWithin(address, {own, own.bits()}, allowed)) {
      return "it is an address of this appliance (not listed as " +
             IpNetwork{own, own.bits()}.ToString() + ")";
    }
  }
  return std::nullopt;
}

namespace {

// The kernel's IPv4 and IPv6 address notifications: a message waiting means the interface
// addresses may have changed since they were last read.
class AddressWatch {
 public:
  AddressWatch()
      : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE)) {
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    local.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~AddressWatch() {
    if (fd_ >= 0) ::close(fd_);
  }
  AddressWatch(const AddressWatch&) = delete;
  AddressWatch& operator=(const AddressWatch&) = delete;

  // Drains the notifications; true when there was one, when some were lost (ENOBUFS) or when
  // there is no socket to watch with.
  bool Changed() {
    if (fd_ < 0) return true;
    bool changed = false;
    char buffer[8192];
    for (;;) {
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0) {
        changed = true;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return changed;
      } else {
        return true;
      }
    }
  }

 private:
  int fd_;
};

}  // namespace

std::vector<IpAddress> CachedLocalInterfaceAddresses() {
  static std::mutex mutex;
  static AddressWatch watch;  // subscribed before the first read below: no change is missed
  static std::optional<std::vector<IpAddress>> addresses;
  std::lock_guard lock(mutex);
  if (watch.Changed() || !addresses) addresses = LocalInterfaceAddresses();
  return *addresses;
}

std::vector<IpAddress> LocalInterfaceAddresses() {
  std::vector<IpAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    // Without this list the dial cannot refuse this host's own addresses outside the allowed
    // networks; glibc needs an AF_NETLINK socket here, so a sandbox that denies it lands here.
    static std::atomic<bool> reported{false};
    if (!reported.exchange(true))
      log::Error("validation_local_addresses_unavailable", {{"error", std::strerror(errno)}});
    return out;
  }
  std::unique_ptr<ifaddrs, decltype(&freeifaddrs)> owned(list, freeifaddrs);
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    IpAddress a;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      std::memcpy(a.bytes.data(), &sin->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      a.v6 = true;
      std::memcpy(a.bytes.data(), &sin6->sin6_addr, 16);
    } else {
      continue;
    }
    out.push_back(a);
  }
  return out;
}

}  // namespace ca::gateway::validation
