#include "fuzz/resolver_stub.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace ca::fuzz {
namespace {

StubReply& Current() {
  static StubReply reply;
  return reply;
}

void U16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

}  // namespace

void SetStubReply(StubReply reply) {
  Current() = std::move(reply);
}

DnsMessageBuilder::DnsMessageBuilder(const std::string& qname, uint16_t qtype, uint16_t rcode)
    : rcode_(rcode) {
  Name(question_, qname);
  U16(question_, qtype);
  U16(question_, ns_c_in);
}

void DnsMessageBuilder::Name(std::vector<uint8_t>& out, const std::string& name) const {
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out.push_back(static_cast<uint8_t>(dot - start));
    out.insert(out.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  out.push_back(0);
}

DnsMessageBuilder& DnsMessageBuilder::Answer(const std::string& owner, uint16_t type,
                                             std::span<const uint8_t> rdata) {
  Name(answers_, owner);
  U16(answers_, type);
  U16(answers_, ns_c_in);
  U16(answers_, 0);
  U16(answers_, 300);  // TTL
  U16(answers_, static_cast<uint16_t>(rdata.size()));
  answers_.insert(answers_.end(), rdata.begin(), rdata.end());
  ++count_;
  return *this;
}

DnsMessageBuilder& DnsMessageBuilder::Cname(const std::string& owner, const std::string& target) {
  std::vector<uint8_t> rdata;
  Name(rdata, target);
  return Answer(owner, ns_t_cname, rdata);
}

std::vector<uint8_t> DnsMessageBuilder::Build() const {
  std::vector<uint8_t> out;
  U16(out, 0x1234);                                    // ID
  U16(out, static_cast<uint16_t>(0x8180 | rcode_));  // QR, RD, RA
  U16(out, 1);
  U16(out, count_);
  U16(out, 0);
  U16(out, 0);
  out.insert(out.end(), question_.begin(), question_.end());
  out.insert(out.end(), answers_.begin(), answers_.end());
  return out;
}

}  // namespace ca::fuzz

// Replaces libc's (see the header). Same contract: the message length, or -1 with res_h_errno set.
extern "C" int res_nquery(res_state state, const char*, int, int, unsigned char* answer,
                          int anslen) noexcept {
  const ca::fuzz::StubReply& reply = ca::fuzz::Current();
  size_t n = std::min(reply.message.size(), static_cast<size_t>(std::max(anslen, 0)));
  if (n > 0) std::memcpy(answer, reply.message.data(), n);
  if (reply.h_errno_value != 0) {
    state->res_h_errno = reply.h_errno_value;
    return -1;
  }
  state->res_h_errno = 0;
  return static_cast<int>(n);
}
