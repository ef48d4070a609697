// DNS responses as the validator reads them (gateway/validation/dns_client.h): TXT (dns-01), CAA,
// A and AAAA lookups with their CNAME chasing, over a message chosen by the fuzzer. The query
// itself is answered by resolver_stub.cpp. Input: byte 0 picks success (even) or a resolver
// failure code (odd: HOST_NOT_FOUND, NO_DATA, NO_RECOVERY, TRY_AGAIN); the rest is the message.
// Property: an answer has records exactly when its status is kOk.
#include <netdb.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz/resolver_stub.h"
#include "fuzz/seeds.h"
#include "gateway/validation/dns_client.h"

namespace ca::fuzz {
namespace {

using gateway::validation::DnsClient;
using gateway::validation::DnsStatus;

const DnsClient& Client() {
  static const DnsClient client =
      *DnsClient::Create("127.0.0.1:53", std::chrono::seconds(1), 1, /*max_cname_depth=*/8);
  return client;
}

template <class Answer>
void CheckAnswer(const Answer& answer) {
  if (!answer) return;
  if ((answer->status == DnsStatus::kOk) != !answer->records.empty()) std::abort();
}

void Seed(const SeedWriter& out, const std::string& name, const std::vector<uint8_t>& message) {
  std::vector<uint8_t> input = {0};
  input.insert(input.end(), message.begin(), message.end());
  out.Add(name, input);
}

void WriteSeeds(const SeedWriter& out) {
  const std::string txt = "\x2bgjSaXz5sL6rQr-dJmVCEpBn2YBcBLQxzMiGZiX6U0nQ";
  Seed(out, "txt", DnsMessageBuilder("_acme-challenge.example.org", 16)
                       .Answer("_acme-challenge.example.org", 16,
                               std::span(reinterpret_cast<const uint8_t*>(txt.data()), txt.size()))
                       .Build());
  const std::string caa = std::string("\x00\x05issueca.example", 16);
  Seed(out, "caa_cname", DnsMessageBuilder("example.org", 257)
                             .Cname("example.org", "alias.example.net")
                             .Answer("alias.example.net", 257,
                                     std::span(reinterpret_cast<const uint8_t*>(caa.data()), caa.size()))
                             .Build());
  const std::array<uint8_t, 4> a = {192, 0, 2, 1};
  Seed(out, "a", DnsMessageBuilder("www.example.org", 1).Answer("www.example.org", 1, a).Build());
  std::array<uint8_t, 16> aaaa = {0x20, 0x01, 0x0d, 0xb8};
  aaaa[15] = 1;
  Seed(out, "aaaa", DnsMessageBuilder("www.example.org", 28).Answer("www.example.org", 28, aaaa).Build());
  Seed(out, "nxdomain", DnsMessageBuilder("nx.example.org", 1, 3).Build());
  out.Add("servfail_header", std::string("\x07\x12\x34\x81\x82", 5));
}

}  // namespace
}  // namespace ca::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ca::fuzz::MaybeWriteSeeds(ca::fuzz::WriteSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  constexpr int kFailures[] = {HOST_NOT_FOUND, NO_DATA, NO_RECOVERY, TRY_AGAIN};
  ca::fuzz::StubReply reply;
  if (data[0] % 2 == 1) reply.h_errno_value = kFailures[(data[0] / 2) % 4];
  reply.message.assign(data + 1, data + size);
  ca::fuzz::SetStubReply(std::move(reply));
  const auto& client = ca::fuzz::Client();
  ca::fuzz::CheckAnswer(client.Txt("_acme-challenge.example.org"));
  ca::fuzz::CheckAnswer(client.Caa("example.org"));
  ca::fuzz::CheckAnswer(client.Addresses("www.example.org", AF_INET));
  ca::fuzz::CheckAnswer(client.Addresses("www.example.org", AF_INET6));
  return 0;
}
