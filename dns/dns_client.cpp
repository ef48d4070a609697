#include "dns/dns_client.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <utility>

namespace ca::dns {

Result<ResolverAddress> ParseResolverAddress(std::string_view text) {
  ResolverAddress out;
  std::string_view host = text;
  if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    std::string_view port = text.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return Fail(ErrorCode::kInvalidArgument, "resolver '" + std::string(text) + "': bad port");
    }
    out.port = static_cast<uint16_t>(value);
  }
  in_addr addr{};
  std::string ip(host);
  if (inet_pton(AF_INET, ip.c_str(), &addr) != 1) {
    return Fail(ErrorCode::kInvalidArgument,
                "resolver '" + std::string(text) + "': expected an IPv4 address[:port]");
  }
  out.ip = ip;
  return out;
}

std::string_view DnsStatusName(DnsStatus status) {
  switch (status) {
    case DnsStatus::kOk:
      return "NOERROR";
    case DnsStatus::kNxDomain:
      return "NXDOMAIN";
    case DnsStatus::kNoData:
      return "NODATA";
    case DnsStatus::kServFail:
      return "SERVFAIL";
    case DnsStatus::kRefused:
      return "REFUSED";
  }
  return "?";
}

Result<std::string> NormalizeDnsName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  if (!out.empty() && out.back() == '.') out.pop_back();
  auto bad = [&](std::string why) {
    return Fail(ErrorCode::kInvalidArgument,
                "'" + std::string(name) + "' is not a DNS name: " + why);
  };
  if (out.empty()) return bad("empty");
  if (out.size() > 253) return bad("longer than 253 characters");
  size_t label_start = 0;
  for (size_t i = 0; i <= out.size(); ++i) {
    if (i == out.size() || out[i] == '.') {
      size_t len = i - label_start;
      if (len == 0) return bad("empty label");
      if (len > 63) return bad("label longer than 63 characters");
      if (out[label_start] == '-' || out[i - 1] == '-') return bad("label starts or ends with '-'");
      label_start = i + 1;
      continue;
    }
    char c = out[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return bad("character not allowed");
  }
  return out;
}

struct DnsClient::Raw {
  DnsStatus status = DnsStatus::kOk;
  std::vector<uint8_t> message;
};

namespace {

constexpr size_t kDnsHeaderSize = 12;
constexpr size_t kMaxDnsMessage = 65535;
constexpr size_t kMaxIdleStates = 16;

// A resolver state aimed at our server only, with its answer buffer.
struct PooledState {
  struct __res_state state;
  bool initialised = false;
  std::vector<uint8_t> buffer = std::vector<uint8_t>(kMaxDnsMessage);
  PooledState() { std::memset(&state, 0, sizeof state); }
  ~PooledState() {
    if (initialised) res_nclose(&state);
  }
  PooledState(const PooledState&) = delete;
  PooledState& operator=(const PooledState&) = delete;
};

}  // namespace

class DnsClient::StatePool {
 public:
  StatePool(const sockaddr_in& server, int timeout_seconds, int attempts)
      : server_(server), timeout_seconds_(timeout_seconds), attempts_(attempts) {}

  Result<std::unique_ptr<PooledState>> Take() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto s = std::move(idle_.back());
        idle_.pop_back();
        return s;
      }
    }
    auto s = std::make_unique<PooledState>();
    if (res_ninit(&s->state) != 0) return Fail(ErrorCode::kInternal, "res_ninit failed");
    s->initialised = true;
    // Only our server: the nameserver list from /etc/resolv.conf is replaced. glibc prefers
    // nsaddr_list[n] when its family is set; the IPv6 side table is overwritten too so that no
    // entry read from resolv.conf can be used.
    s->state.nsaddr_list[0] = server_;
    s->state.nscount = 1;
    for (auto*& ext : s->state._u._ext.nsaddrs) {
      if (ext != nullptr) {
        std::memset(ext, 0, sizeof *ext);
        std::memcpy(ext, &server_, sizeof server_);
      }
    }
    s->state.retrans = timeout_seconds_;
    s->state.retry = attempts_;
    // No RES_STAYOPEN: glibc closes the query's socket after each query.
    s->state.options &=
        ~(RES_DNSRCH | RES_DEFNAMES | RES_ROTATE | RES_USEVC | RES_IGNTC | RES_STAYOPEN);
    s->state.options |= RES_RECURSE;
    return s;
  }

  void Give(std::unique_ptr<PooledState> s) {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdleStates) idle_.push_back(std::move(s));
  }

 private:
  const sockaddr_in server_;
  const int timeout_seconds_;
  const int attempts_;
  std::mutex mu_;
  std::vector<std::unique_ptr<PooledState>> idle_;
};

Result<DnsClient> DnsClient::Create(std::string_view resolver, std::chrono::seconds timeout,
                                    int attempts, int max_cname_depth) {
  auto address = CA_TRY(ParseResolverAddress(resolver));
  if (timeout.count() < 1 || attempts < 1 || max_cname_depth < 1) {
    return Fail(ErrorCode::kInvalidArgument,
                "DNS timeout, attempts and CNAME depth must be positive");
  }
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(address.port);
  if (inet_pton(AF_INET, address.ip.c_str(), &server.sin_addr) != 1)
    return Fail(ErrorCode::kInvalidArgument, "resolver address " + address.ip + " is not IPv4");
  DnsClient client;
  client.resolver_text_ = std::string(resolver);
  client.ip_ = address.ip;
  client.port_ = address.port;
  client.timeout_seconds_ = static_cast<int>(timeout.count());
  client.attempts_ = attempts;
  client.max_cname_depth_ = max_cname_depth;
  client.states_ = std::make_shared<StatePool>(server, client.timeout_seconds_, attempts);
  return client;
}

Result<DnsClient::Raw> DnsClient::Query(const std::string& name, int type) const {
  std::unique_ptr<PooledState> pooled = CA_TRY(states_->Take());
  struct __res_state& state = pooled->state;
  uint8_t* buffer = pooled->buffer.data();
  // The header tells an answer from silence below: no stale header from the previous query.
  std::memset(buffer, 0, kDnsHeaderSize);
  int n = res_nquery(&state, name.c_str(), ns_c_in, type, buffer, static_cast<int>(kMaxDnsMessage));
  const int h_errno_value = state.res_h_errno;
  Raw raw;
  if (n >= 0) {
    raw.message.assign(buffer, buffer + n);
    states_->Give(std::move(pooled));
    return raw;
  }
  switch (h_errno_value) {
    case HOST_NOT_FOUND:
      raw.status = DnsStatus::kNxDomain;
      break;
    case NO_DATA:
      raw.status = DnsStatus::kNoData;
      break;
    case NO_RECOVERY:
      raw.status = DnsStatus::kRefused;
      break;
    case TRY_AGAIN: {
      // glibc reports SERVFAIL/REFUSED answers and timeouts alike; a response header in the buffer
      // (QR bit set) tells an answer from silence. An empty NOERROR answer lands here too when the
      // server sets neither AA nor RA (glibc takes it for a referral): the server said "nothing".
      if ((buffer[2] & 0x80) == 0) {
        return Fail(ErrorCode::kUnavailable,
                    "no answer from resolver " + resolver_text_ + " for " + name + " (timeout)");
      }
      switch (buffer[3] & 0x0f) {
        case ns_r_noerror:
          raw.status = DnsStatus::kNoData;
          break;
        case ns_r_nxdomain:
          raw.status = DnsStatus::kNxDomain;
          break;
        case ns_r_refused:
          raw.status = DnsStatus::kRefused;
          break;
        default:
          raw.status = DnsStatus::kServFail;
          break;
      }
      break;
    }
    default:
      // A failed state is not reused (it is closed here): the next query starts from a fresh one.
      return Fail(ErrorCode::kUnavailable, "query to resolver " + resolver_text_ + " for " + name +
                                               " failed: " + std::strerror(errno));
  }
  states_->Give(std::move(pooled));
  return raw;
}

template <class T, class Parse>
Result<DnsAnswer<T>> DnsClient::Lookup(std::string_view name_in, int type, Parse parse) const {
  std::string current = CA_TRY(NormalizeDnsName(name_in));
  DnsAnswer<T> out;
  std::set<std::string> seen{current};
  while (true) {
    Raw raw = CA_TRY(Query(current, type));
    out.final_name = current;
    if (raw.status != DnsStatus::kOk) {
      out.status = raw.status;
      return out;
    }
    ns_msg msg;
    if (ns_initparse(raw.message.data(), static_cast<int>(raw.message.size()), &msg) < 0) {
      return Fail(ErrorCode::kCorrupt, "malformed DNS response for " + current);
    }
    std::map<std::string, std::string> cnames;
    std::multimap<std::string, T> records;
    int count = ns_msg_count(msg, ns_s_an);
    for (int i = 0; i < count; ++i) {
      ns_rr rr;
      if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
        return Fail(ErrorCode::kCorrupt, "malformed answer record in DNS response for " + current);
      }
      if (ns_rr_class(rr) != ns_c_in) continue;
      auto owner = NormalizeDnsName(ns_rr_name(rr));
      if (!owner) continue;  // a name we would never ask about
      if (ns_rr_type(rr) == ns_t_cname) {
        char target[NS_MAXDNAME];
        if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr), target,
                               sizeof target) < 0) {
          return Fail(ErrorCode::kCorrupt, "malformed CNAME record for " + *owner);
        }
        auto normalized = NormalizeDnsName(target);
        if (!normalized)
          return Fail(ErrorCode::kCorrupt, "CNAME of " + *owner + " targets an invalid name");
        cnames[*owner] = *normalized;
      } else if (ns_rr_type(rr) == type) {
        const uint8_t* rdata = ns_rr_rdata(rr);
        T value = CA_TRY(parse(std::span<const uint8_t>(rdata, ns_rr_rdlen(rr)), *owner));
        records.emplace(*owner, std::move(value));
      }
    }
    std::string at = current;
    while (true) {
      auto [first, last] = records.equal_range(at);
      if (first != last) {
        for (auto it = first; it != last; ++it) out.records.push_back(std::move(it->second));
        out.final_name = at;
        out.status = DnsStatus::kOk;
        return out;
      }
      auto cname = cnames.find(at);
      if (cname == cnames.end()) break;
      if (static_cast<int>(out.cname_chain.size()) >= max_cname_depth_) {
        return Fail(ErrorCode::kFailedPrecondition, "CNAME chain from " + std::string(name_in) +
                                                        " longer than " +
                                                        std::to_string(max_cname_depth_));
      }
      if (!seen.insert(cname->second).second) {
        return Fail(ErrorCode::kFailedPrecondition, "CNAME loop at " + cname->second);
      }
      at = cname->second;
      out.cname_chain.push_back(at);
    }
    if (at == current) {  // neither records nor a CNAME for the name asked about
      out.status = DnsStatus::kNoData;
      return out;
    }
    current = at;  // the chain leaves this response: ask for its last target
  }
}

Result<DnsAnswer<std::string>> DnsClient::Txt(std::string_view name) const {
  return Lookup<std::string>(
      name, ns_t_txt,
      [](std::span<const uint8_t> rdata, const std::string& owner) -> Result<std::string> {
        std::string text;
        size_t i = 0;
        while (i < rdata.size()) {
          size_t len = rdata[i];
          if (i + 1 + len > rdata.size())
            return Fail(ErrorCode::kCorrupt, "malformed TXT record at " + owner);
          text.append(reinterpret_cast<const char*>(rdata.data() + i + 1), len);
          i += 1 + len;
        }
        return text;
      });
}

Result<DnsAnswer<CaaRecord>> DnsClient::Caa(std::string_view name) const {
  constexpr int kTypeCaa = 257;
  return Lookup<CaaRecord>(
      name, kTypeCaa,
      [](std::span<const uint8_t> rdata, const std::string& owner) -> Result<CaaRecord> {
        if (rdata.size() < 2 || rdata[1] == 0 || static_cast<size_t>(rdata[1]) + 2 > rdata.size()) {
          return Fail(ErrorCode::kCorrupt, "malformed CAA record at " + owner);
        }
        CaaRecord record;
        record.flags = rdata[0];
        record.tag.assign(reinterpret_cast<const char*>(rdata.data() + 2), rdata[1]);
        record.value.assign(reinterpret_cast<const char*>(rdata.data() + 2 + rdata[1]),
                            rdata.size() - 2 - rdata[1]);
        return record;
      });
}

Result<DnsAnswer<std::string>> DnsClient::Addresses(std::string_view name, int family) const {
  if (family != AF_INET && family != AF_INET6)
    return Fail(ErrorCode::kInvalidArgument, "family must be AF_INET or AF_INET6");
  size_t want = family == AF_INET ? 4 : 16;
  return Lookup<std::string>(
      name, family == AF_INET ? ns_t_a : ns_t_aaaa,
      [family, want](std::span<const uint8_t> rdata,
                     const std::string& owner) -> Result<std::string> {
        if (rdata.size() != want)
          return Fail(ErrorCode::kCorrupt, "malformed address record at " + owner);
        char text[INET6_ADDRSTRLEN];
        if (inet_ntop(family, rdata.data(), text, sizeof text) == nullptr) {
          return Fail(ErrorCode::kCorrupt, "unprintable address at " + owner);
        }
        return std::string(text);
      });
}

}  // namespace ca::dns
