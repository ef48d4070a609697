// A stand-in for glibc's res_nquery(), linked into the harnesses that go through
// gateway/validation/dns_client.h: the executable's definition takes precedence over libc's, so
// DnsClient's queries get the reply set here instead of going to a server. Everything after the
// query (the parsing of the message) is DnsClient's real code.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ca::fuzz {

struct StubReply {
  int h_errno_value = 0;         // 0: answer with `message`; else res_nquery fails with this code
  std::vector<uint8_t> message;  // the DNS message (for failures: what lands in the buffer)
};

// The reply every later query gets (the harnesses are single-threaded).
void SetStubReply(StubReply reply);

// Builds DNS response messages for seeds and fixtures: one question, answer records.
class DnsMessageBuilder {
 public:
  DnsMessageBuilder(const std::string& qname, uint16_t qtype, uint16_t rcode = 0);
  // An answer record; `owner` is written in full (no compression) so the seed stays readable.
  DnsMessageBuilder& Answer(const std::string& owner, uint16_t type, std::span<const uint8_t> rdata);
  DnsMessageBuilder& Cname(const std::string& owner, const std::string& target);
  std::vector<uint8_t> Build() const;

 private:
  void Name(std::vector<uint8_t>& out, const std::string& name) const;
  std::vector<uint8_t> question_;
  std::vector<uint8_t> answers_;
  uint16_t rcode_;
  uint16_t count_ = 0;
};

}  // namespace ca::fuzz
