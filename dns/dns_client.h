// A DNS stub client on glibc's resolver (res_ninit / res_nquery / ns_initparse / ns_parserr) that
// asks one configured server (any port), never caches, and falls back to TCP on truncation (glibc
// does this when TC is set). Thread-safe: a query holds a res_state of its own, taken from a small
// pool of initialised states (res_ninit and the 64 KiB answer buffer once per state, not per
// query); each query still gets a fresh UDP socket, so a fresh random source port (spoofing
// resistance).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ca::dns {

// How the server answered. kServFail / kRefused are answers (the resolver is reachable but could
// not or would not resolve); no answer at all (timeout, socket error) is an Error with
// kUnavailable.
enum class DnsStatus { kOk, kNxDomain, kNoData, kServFail, kRefused };
std::string_view DnsStatusName(DnsStatus status);

struct CaaRecord {
  uint8_t flags = 0;
  std::string tag;    // as received (compare case-insensitively)
  std::string value;  // raw value bytes
  bool critical() const { return (flags & 0x80) != 0; }
};

template <class T>
struct DnsAnswer {
  DnsStatus status = DnsStatus::kOk;
  std::vector<T> records;                // non-empty iff status == kOk
  std::vector<std::string> cname_chain;  // CNAME targets followed, in order
  std::string final_name;                // the name the records belong to
};

// Parses "1.2.3.4:53" / "1.2.3.4" into address and port (IPv4 only: the glibc resolver's
// nameserver list takes IPv4 socket addresses).
struct ResolverAddress {
  std::string ip;
  uint16_t port = 53;
};
Result<ResolverAddress> ParseResolverAddress(std::string_view text);

// Lower-cases, drops one trailing dot, checks label syntax (letters, digits, '-', '_'; 1..63 per
// label; <= 253 in all). "*." is not accepted here: wildcards are the caller's business.
Result<std::string> NormalizeDnsName(std::string_view name);

class DnsClient {
 public:
  // resolver: "IPv4[:port]". timeout is per attempt (whole seconds: glibc's granularity).
  static Result<DnsClient> Create(std::string_view resolver, std::chrono::seconds timeout,
                                  int attempts, int max_cname_depth = 8);

  // TXT records (each record's character-strings concatenated), following CNAMEs.
  Result<DnsAnswer<std::string>> Txt(std::string_view name) const;
  // CAA records (type 257), following CNAMEs.
  Result<DnsAnswer<CaaRecord>> Caa(std::string_view name) const;
  // A (family AF_INET) or AAAA (AF_INET6) addresses as text, following CNAMEs.
  Result<DnsAnswer<std::string>> Addresses(std::string_view name, int family) const;

  const std::string& resolver() const { return resolver_text_; }

 private:
  struct Raw;
  class StatePool;
  DnsClient() = default;
  // One query, no CNAME chasing: the answer RRs of `type` owned by `name` or by a CNAME chain
  // starting at `name` inside this response.
  template <class T, class Parse>
  Result<DnsAnswer<T>> Lookup(std::string_view name, int type, Parse parse) const;
  Result<Raw> Query(const std::string& name, int type) const;

  std::string resolver_text_;
  std::string ip_;
  uint16_t port_ = 53;
  int timeout_seconds_ = 5;
  int attempts_ = 2;
  int max_cname_depth_ = 8;
  std::shared_ptr<StatePool> states_;  // shared by copies of this client
};

}  // namespace ca::dns
