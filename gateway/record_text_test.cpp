#include "gateway/record_text.h"

#include <gtest/gtest.h>

namespace ca::gateway {
namespace {

// Every byte below 0x20, the characters JSON escapes, DEL, and an ordinary PEM line break.
std::string Awkward() {
  std::string s = "a\"b\\c/d\x7f-----BEGIN\r\n";
  for (int c = 0; c < 0x20; ++c) s += static_cast<char>(c);
  return s;
}

// The direct encoding is byte for byte the nlohmann dump the store wrote before (and the RA reads).
TEST(RecordText, EqualsTheJsonDumpOfEveryRecordType) {
  AccountRecord a{
      "acc1", "kid-1", "SSL", AccountStatus::kDeactivated, 1700000000, {"mailto:" + Awkward(), "x"},
      "tp"};
  EXPECT_EQ(RecordText(a), ToJson(a).dump());
  a.contact.clear();
  EXPECT_EQ(RecordText(a), ToJson(a).dump());

  OrderRecord o;
  o.id = "o1";
  o.account_id = "acc1";
  o.status = OrderStatus::kInvalid;
  o.created_at = -5;  // as stored, whatever its sign
  o.expires = 9223372036854775807;
  o.names = {"a.example", "*.b.example", Awkward()};
  o.authz_ids = {"z1", "z2"};
  o.error = {
      {"type", "urn:ietf:params:acme:error:badCSR"}, {"detail", "bad \"key\"\n"}, {"status", 400}};
  o.finalize_csr = std::string(1600, 'A') + "-_";
  o.policy_version = 18446744073709551615ull;  // stored as int64, as ToJson does
  EXPECT_EQ(RecordText(o), ToJson(o).dump());
  o.error = nullptr;
  EXPECT_EQ(RecordText(o), ToJson(o).dump());

  AuthzRecord z;
  z.id = "z1";
  z.name = Awkward();
  z.wildcard = true;
  z.status = AuthzStatus::kValid;
  z.challenge_ids = {"c1"};
  z.validated_at = 1;
  EXPECT_EQ(RecordText(z), ToJson(z).dump());
  z.wildcard = false;
  z.challenge_ids.clear();
  EXPECT_EQ(RecordText(z), ToJson(z).dump());

  ChallengeRecord c;
  c.id = "c1";
  c.type = "http-01";
  c.token = Awkward();
  c.status = ChallengeStatus::kProcessing;
  c.attempts = 3;
  c.error = {{"type", "urn:ietf:params:acme:error:connection"},
             {"subproblems", nlohmann::json::array({1, "x"})}};
  EXPECT_EQ(RecordText(c), ToJson(c).dump());

  CertRecord r{"0a1b",
               "acc1",
               "kid-1",
               "o1",
               "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
               10,
               20};
  EXPECT_EQ(RecordText(r), ToJson(r).dump());
}

// Text outside ASCII goes through nlohmann (its UTF-8 handling stays the only one).
TEST(RecordText, NonAsciiTextIsEncodedByNlohmann) {
  AccountRecord a{
      "acc1", "kid-1", "SSL", AccountStatus::kValid, 1, {"mailto:jos\xc3\xa9@example.fr"}, "tp"};
  EXPECT_EQ(RecordText(a), ToJson(a).dump());
  EXPECT_NE(RecordText(a).find("jos\xc3\xa9"), std::string::npos);
  CertRecord r{"0a", "acc1", "k\xe2\x82\xac", "o1", "pem", 1, 2};
  EXPECT_EQ(RecordText(r), ToJson(r).dump());
}

}  // namespace
}  // namespace ca::gateway
