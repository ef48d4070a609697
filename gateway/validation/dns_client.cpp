#include "gateway/validation/dns_client.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <span>
#include <utility>

#include "gateway/validation/config.h"

namespace ca::validation {

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

Result<DnsClient> DnsClient::Create(std::string_view resolver, std::chrono::seconds timeout,
                                    int attempts, int max_cname_depth) {
  auto address = CA_TRY(ParseResolverAddress(resolver));
  if (timeout.count() < 1 || attempts < 1 || max_cname_depth < 1) {
    return Fail(ErrorCode::kInvalidArgument,
                "DNS timeout, attempts and CNAME depth must be positive");
  }
  DnsClient client;
  client.resolver_text_ = std::string(resolver);
  client.ip_ = address.ip;
  client.port_ = address.port;
  client.timeout_seconds_ = static_cast<int>(timeout.count());
  client.attempts_ = attempts;
  client.max_cname_depth_ = max_cname_depth;
  return client;
}

namespace {

struct ResStateCloser {
  res_state state;
  ~ResStateCloser() { res_nclose(state); }
};

constexpr size_t kDnsHeaderSize = 12;

}  // namespace

Result<DnsClient::Raw> DnsClient::Query(const std::string& name, int type) const {
  struct __res_state state;
  std::memset(&state, 0, sizeof state);
  if (res_ninit(&state) != 0) return Fail(ErrorCode::kInternal, "res_ninit failed");
  ResStateCloser closer{&state};

  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(port_);
  if (inet_pton(AF_INET, ip_.c_str(), &server.sin_addr) != 1) {
    return Fail(ErrorCode::kInternal, "resolver address " + ip_ + " no longer parses");
  }
  // Only our server: the nameserver list from /etc/resolv.conf is replaced. glibc prefers
  // nsaddr_list[n] when its family is set; the IPv6 side table is overwritten too so that no entry
  // read from resolv.conf can be used.
  state.nsaddr_list[0] = server;
  state.nscount = 1;
  for (auto*& ext : state._u._ext.nsaddrs) {
    if (ext != nullptr) {
      std::memset(ext, 0, sizeof *ext);
      std::memcpy(ext, &server, sizeof server);
    }
  }
  state.retrans = timeout_seconds_;
  state.retry = attempts_;
  state.options &= ~(RES_DNSRCH | RES_DEFNAMES | RES_ROTATE | RES_USEVC | RES_IGNTC);
  state.options |= RES_RECURSE;

  Raw raw;
  raw.message.assign(65535, 0);
  int n = res_nquery(&state, name.c_str(), ns_c_in, type, raw.message.data(),
                     static_cast<int>(raw.message.size()));
  if (n >= 0) {
    raw.message.resize(static_cast<size_t>(n));
    return raw;
  }
  switch (state.res_h_errno) {
    case HOST_NOT_FOUND:
      raw.status = DnsStatus::kNxDomain;
      return raw;
    case NO_DATA:
      raw.status = DnsStatus::kNoData;
      return raw;
    case NO_RECOVERY:
      raw.status = DnsStatus::kRefused;
      return raw;
    case TRY_AGAIN: {
      // glibc reports SERVFAIL/REFUSED answers and timeouts alike; a response header in the buffer
      // (QR bit set) tells an answer from silence. An empty NOERROR answer lands here too when the
      // server sets neither AA nor RA (glibc takes it for a referral): the server said "nothing".
      const uint8_t* header = raw.message.data();
      if ((header[2] & 0x80) != 0) {
        switch (header[3] & 0x0f) {
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
        return raw;
      }
      return Fail(ErrorCode::kUnavailable,
                  "no answer from resolver " + resolver_text_ + " for " + name + " (timeout)");
    }
    default:
      return Fail(ErrorCode::kUnavailable, "query to resolver " + resolver_text_ + " for " + name +
                                               " failed: " + std::strerror(errno));
  }
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

}  // namespace ca::validation
