#include "appliance/ceremony/config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ca::appliance::ceremony {
namespace {

using nlohmann::json;

json RootConfig() {
  return json::parse(R"({
    "ceremony": "root", "operator": "Alice",
    "token": {"module": "/usr/lib/softhsm/libsofthsm2.so", "label": "ca", "user_pin": "file:/etc/ca/pin"},
    "output_dir": "/var/lib/ca/root/",
    "root": {"key_label": "root-2026", "key_type": "rsa4096",
             "subject": {"CN": "Root", "C": "FR", "O": "Org"}, "validity_days": 7305}})");
}

json AllConfig() {
  json j = RootConfig();
  j["ceremony"] = "all";
  j["intermediate"] = {{"key_label", "acme"},
                       {"key_type", "rsa3072"},
                       {"subject", {{"CN", "ACME CA"}}},
                       {"crl_url", "http://pki.example/root.crl"},
                       {"ca_issuers_url", "http://pki.example/root.cer"},
                       {"permitted_dns", {"example.com", ".example.org"}}};
  j["ocsp_signer"] = {{"key_label", "ocsp"}, {"subject", {{"CN", "OCSP"}}}};
  j["root_crl"] = {{"crl_number", 7}};
  return j;
}

std::string ErrorOf(const json& j) {
  auto r = ParseConfig(j.dump());
  if (r) return "(parsed)";
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  return r.error().message;
}

TEST(ConfigTest, ParsesRootConfig) {
  auto c = ParseConfig(RootConfig().dump());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->kind, CeremonyKind::kRoot);
  EXPECT_EQ(c->operator_name, "Alice");
  EXPECT_EQ(c->output_dir, "/var/lib/ca/root");  // trailing slash removed
  EXPECT_EQ(c->token.label, "ca");
  EXPECT_EQ(c->token.user_pin_source, "file:/etc/ca/pin");
  ASSERT_TRUE(c->root);
  EXPECT_EQ(c->root->key.label, "root-2026");
  EXPECT_EQ(c->root->key.type, hsm::KeyType::kRsa4096);
  EXPECT_EQ(c->root->validity_days, 7305);
  // Attributes come out in certificate order whatever the JSON order.
  ASSERT_EQ(c->root->subject.attributes.size(), 3u);
  EXPECT_EQ(c->root->subject.attributes[0].first, "C");
  EXPECT_EQ(c->root->subject.attributes[1].first, "O");
  EXPECT_EQ(c->root->subject.attributes[2].first, "CN");
  EXPECT_EQ(c->root->subject.common_name, "Root");
  EXPECT_FALSE(c->intermediate);
}

TEST(ConfigTest, ParsesAllWithDefaults) {
  auto c = ParseConfig(AllConfig().dump());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->ocsp_signer->key.type, hsm::KeyType::kEcP256);  // default
  EXPECT_EQ(c->ocsp_signer->validity_days, 365);
  EXPECT_EQ(c->intermediate->permitted_dns,
            (std::vector<std::string>{"example.com", ".example.org"}));
  EXPECT_EQ(*c->root_crl->crl_number, 7u);
  EXPECT_EQ(c->root_crl->next_update_days, 365);
}

TEST(ConfigTest, RejectsUnknownKeysAtEveryLevel) {
  json j = RootConfig();
  j["extra"] = 1;
  EXPECT_EQ(
      ErrorOf(j),
      "config: extra: unknown field (allowed here: ceremony, operator, token, output_dir, root)");
  j = RootConfig();
  j["root"]["pathlen"] = 2;
  EXPECT_EQ(ErrorOf(j),
            "config: root.pathlen: unknown field (allowed here: key_label, key_type, subject, "
            "validity_days)");
  j = RootConfig();
  j["root"]["subject"]["EMAIL"] = "x@y";
  EXPECT_EQ(ErrorOf(j),
            "config: root.subject.EMAIL: unknown field (allowed here: C, ST, L, O, OU, "
            "organizationIdentifier, CN)");
  j = RootConfig();
  j["token"]["so_pin"] = "file:/x";  // only init-token takes the SO PIN
  EXPECT_EQ(ErrorOf(j),
            "config: token.so_pin: unknown field (allowed here: module, label, user_pin)");
  j = RootConfig();
  j["intermediate"] = AllConfig()["intermediate"];  // belongs to other ceremonies
  EXPECT_EQ(ErrorOf(j),
            "config: intermediate: unknown field (allowed here: ceremony, operator, token, "
            "output_dir, root)");
}

TEST(ConfigTest, RejectsWrongTypesAndMissingFields) {
  json j = RootConfig();
  j["root"]["validity_days"] = "7305";
  EXPECT_EQ(ErrorOf(j), "config: root.validity_days: expected an integer");
  j = RootConfig();
  j["operator"] = 5;
  EXPECT_EQ(ErrorOf(j), "config: operator: expected a non-empty string");
  j = RootConfig();
  j["root"].erase("key_label");
  EXPECT_EQ(ErrorOf(j), "config: root.key_label: missing");
  j = RootConfig();
  j["root"]["subject"].erase("CN");
  EXPECT_EQ(ErrorOf(j), "config: root.subject.CN: missing");
  j = RootConfig();
  j.erase("token");
  EXPECT_EQ(ErrorOf(j), "config: token: missing");
  EXPECT_EQ(ErrorOf(json::array()), "config: (file): the top level must be a JSON object");
  auto r = ParseConfig("{\"ceremony\": ");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "config: (file): not valid JSON");
}

TEST(ConfigTest, RejectsUnsupportedKeyTypesPerRole) {
  json j = RootConfig();
  j["root"]["key_type"] = "rsa2048";
  EXPECT_EQ(
      ErrorOf(j),
      "config: root.key_type: unsupported key type 'rsa2048' (allowed: rsa3072, rsa4096, ec-p384)");
  j = RootConfig();
  j["root"]["key_type"] = "ec-p256";  // valid name, not allowed for a root
  EXPECT_NE(ErrorOf(j).find("unsupported key type 'ec-p256'"), std::string::npos);
  j = AllConfig();
  j["intermediate"]["key_type"] = "ec-p384";
  EXPECT_NE(
      ErrorOf(j).find(
          "intermediate.key_type: unsupported key type 'ec-p384' (allowed: rsa3072, rsa4096)"),
      std::string::npos);
}

TEST(ConfigTest, RejectsValidityOutOfRange) {
  json j = RootConfig();
  j["root"]["validity_days"] = 20000;
  EXPECT_EQ(ErrorOf(j), "config: root.validity_days: out of range: 20000 (allowed 365..9132 days)");
  j = AllConfig();
  j["ocsp_signer"]["validity_days"] = 0;
  EXPECT_NE(ErrorOf(j).find("ocsp_signer.validity_days: out of range"), std::string::npos);
  j = AllConfig();
  j["root"]["validity_days"] = 1000;
  j["intermediate"]["validity_days"] = 2000;
  EXPECT_EQ(ErrorOf(j), "config: intermediate.validity_days: exceeds the root's validity_days");
}

TEST(ConfigTest, RejectsDuplicateKeys) {
  std::string text = RootConfig().dump();
  text.insert(1, "\"operator\": \"Mallory\", ");
  auto r = ParseConfig(text);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "config: operator: key appears twice in one object");
}

TEST(ConfigTest, RejectsPinsThatAreNotSources) {
  json j = RootConfig();
  j["token"]["user_pin"] = "1234";
  EXPECT_NE(ErrorOf(j).find("token.user_pin: must be \"file:/absolute/path\" or \"env:NAME\""),
            std::string::npos);
  EXPECT_EQ(ErrorOf(j).find("1234"), std::string::npos);  // the PIN is never echoed
}

TEST(ConfigTest, RejectsBadUrlsNamesAndLabels) {
  json j = AllConfig();
  j["intermediate"]["crl_url"] = "ldap://x/crl";
  EXPECT_NE(ErrorOf(j).find("intermediate.crl_url: must be an http:// or https:// URL"),
            std::string::npos);
  j = AllConfig();
  j["intermediate"]["ca_issuers_url"] = "http://a/b,URI:http://evil";
  EXPECT_NE(ErrorOf(j).find("intermediate.ca_issuers_url"), std::string::npos);
  j = AllConfig();
  j["intermediate"]["permitted_dns"] = {"Example.COM"};
  EXPECT_NE(ErrorOf(j).find("intermediate.permitted_dns[0]"), std::string::npos);
  j = AllConfig();
  j["intermediate"]["permitted_dns"] = {"a,permitted;IP:0.0.0.0/0"};
  EXPECT_NE(ErrorOf(j).find("is not a lower-case DNS name"), std::string::npos);
  j = AllConfig();
  j["ocsp_signer"]["key_label"] = "acme";
  EXPECT_EQ(ErrorOf(j),
            "config: ocsp_signer.key_label: 'acme' is also used by intermediate.key_label");
  j = RootConfig();
  j["root"]["key_label"] = "root key";
  EXPECT_NE(ErrorOf(j).find("root.key_label: 'root key' may only contain"), std::string::npos);
  j = RootConfig();
  j["output_dir"] = "relative/dir";
  EXPECT_EQ(ErrorOf(j), "config: output_dir: must be an absolute path");
  j = RootConfig();
  j["root"]["subject"]["C"] = "France";
  EXPECT_EQ(ErrorOf(j), "config: root.subject.C: longer than 2 bytes");
}

TEST(ConfigTest, StagingRequiresTestInEveryCn) {
  json j = AllConfig();
  j["ceremony"] = "staging";
  j.erase("root_crl");  // optional for staging
  EXPECT_NE(ErrorOf(j).find("root.subject.CN: a staging certificate's CN must contain \"TEST\""),
            std::string::npos);
  j["root"]["subject"]["CN"] = "TEST Root";
  j["intermediate"]["subject"]["CN"] = "TEST ACME";
  EXPECT_NE(ErrorOf(j).find("ocsp_signer.subject.CN"), std::string::npos);
  j["ocsp_signer"]["subject"]["CN"] = "TEST OCSP";
  auto c = ParseConfig(j.dump());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->kind, CeremonyKind::kStaging);
  EXPECT_FALSE(c->root_crl);
}

TEST(ConfigTest, RootCrlSection) {
  json j = RootConfig();
  j.erase("root");
  j["ceremony"] = "root-crl";
  j["issuer"] = {{"key_label", "root-2026"}, {"certificate", "/x/root.pem"}};
  j["root_crl"] = {{"crl_number", 3}, {"crl_number_file", "/x/n"}};
  EXPECT_EQ(ErrorOf(j),
            "config: root_crl: exactly one of crl_number and crl_number_file is required");
  j["root_crl"] = {{"crl_number_file", "/x/n"},
                   {"revoked",
                    {{{"serial", "0ABC"},
                      {"reason", "keyCompromise"},
                      {"revocation_date", "2026-01-02T03:04:05Z"}}}}};
  auto c = ParseConfig(j.dump());
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->root_crl->revoked.size(), 1u);
  EXPECT_EQ(c->root_crl->revoked[0].serial_hex, "0abc");
  EXPECT_EQ(c->root_crl->revoked[0].reason, 1);
  EXPECT_EQ(c->root_crl->revoked[0].revocation_date, "20260102030405Z");
  j["root_crl"]["revoked"][0]["reason"] = "bored";
  EXPECT_EQ(ErrorOf(j), "config: root_crl.revoked[0].reason: unknown reason 'bored'");
  j["root_crl"]["revoked"][0]["reason"] = "superseded";
  j["root_crl"]["revoked"][0]["revocation_date"] = "2026-13-02T03:04:05Z";
  EXPECT_EQ(
      ErrorOf(j),
      "config: root_crl.revoked[0].revocation_date: '2026-13-02T03:04:05Z' is not a valid date "
      "and time");
}

json TlsServerConfig() {
  json j = RootConfig();
  j.erase("root");
  j["ceremony"] = "tls-server";
  j["issuer"] = {{"key_label", "acme-int"}, {"certificate", "/x/intermediate.pem"}};
  j["tls_server"] = {{"subject", {{"O", "Org"}, {"CN", "localhost"}}},
                     {"dns_names", {"localhost", "acme.example"}},
                     {"ip_addresses", {"127.0.0.1", "0:0::1"}}};
  return j;
}

TEST(ConfigTest, ParsesTlsServerWithDefaults) {
  auto c = ParseConfig(TlsServerConfig().dump());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->kind, CeremonyKind::kTlsServer);
  EXPECT_EQ(CeremonyKindName(c->kind), "tls-server");
  ASSERT_TRUE(c->issuer);
  EXPECT_EQ(c->issuer->key_label, "acme-int");
  EXPECT_EQ(c->issuer->certificate_path, "/x/intermediate.pem");
  ASSERT_TRUE(c->tls_server);
  EXPECT_EQ(c->tls_server->subject.common_name, "localhost");
  EXPECT_EQ(c->tls_server->names.dns_names,
            (std::vector<std::string>{"localhost", "acme.example"}));
  // Addresses are kept in inet_ntop's canonical form.
  EXPECT_EQ(c->tls_server->names.ip_addresses, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(c->tls_server->key_type, hsm::KeyType::kEcP256);
  EXPECT_EQ(c->tls_server->validity_days, 397);
  EXPECT_FALSE(c->root);
  EXPECT_FALSE(c->intermediate);

  json j = TlsServerConfig();
  j["tls_server"]["key_type"] = "rsa3072";
  j["tls_server"]["validity_days"] = 1;
  j["tls_server"].erase("dns_names");  // IP addresses alone are enough
  j["tls_server"]["subject"]["CN"] = "::1";
  c = ParseConfig(j.dump());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->tls_server->key_type, hsm::KeyType::kRsa3072);
  EXPECT_EQ(c->tls_server->validity_days, 1);
  EXPECT_TRUE(c->tls_server->names.dns_names.empty());
}

TEST(ConfigTest, TlsServerRefusesBadSections) {
  json j = TlsServerConfig();
  j["tls_server"]["key_label"] = "tls";  // the key is a software key: no label
  EXPECT_EQ(ErrorOf(j),
            "config: tls_server.key_label: unknown field (allowed here: subject, dns_names, "
            "ip_addresses, "
            "key_type, validity_days)");
  j = TlsServerConfig();
  j["root"] = RootConfig()["root"];
  EXPECT_EQ(
      ErrorOf(j),
      "config: root: unknown field (allowed here: ceremony, operator, token, output_dir, issuer, "
      "tls_server)");
  j = TlsServerConfig();
  j.erase("issuer");
  EXPECT_EQ(ErrorOf(j), "config: issuer: missing");
  j = TlsServerConfig();
  j.erase("tls_server");
  EXPECT_EQ(ErrorOf(j), "config: tls_server: missing");
  j = TlsServerConfig();
  j["issuer"]["key_type"] = "rsa3072";
  EXPECT_EQ(ErrorOf(j),
            "config: issuer.key_type: unknown field (allowed here: key_label, certificate)");
  j = TlsServerConfig();
  j["tls_server"]["key_type"] = "rsa4096";
  EXPECT_EQ(
      ErrorOf(j),
      "config: tls_server.key_type: unsupported key type 'rsa4096' (allowed: ec-p256, rsa3072)");
  j = TlsServerConfig();
  j["tls_server"]["validity_days"] = 398;
  EXPECT_EQ(ErrorOf(j),
            "config: tls_server.validity_days: out of range: 398 (allowed 1..397 days)");
  j["tls_server"]["validity_days"] = 0;
  EXPECT_EQ(ErrorOf(j), "config: tls_server.validity_days: out of range: 0 (allowed 1..397 days)");
  j = TlsServerConfig();
  j["tls_server"]["dns_names"] = json::array();
  j["tls_server"]["ip_addresses"] = json::array();
  EXPECT_EQ(ErrorOf(j),
            "config: tls_server: at least one name is required in dns_names or ip_addresses");
  j = TlsServerConfig();
  j["tls_server"]["dns_names"] = "localhost";
  EXPECT_EQ(ErrorOf(j), "config: tls_server.dns_names: expected an array of strings");
}

TEST(ConfigTest, TlsServerRefusesBadNames) {
  auto dns_error = [](const std::string& name) {
    json j = TlsServerConfig();
    j["tls_server"]["dns_names"] = {"localhost", name};
    return ErrorOf(j);
  };
  EXPECT_EQ(dns_error("Acme.example"),
            "config: tls_server.dns_names[1]: 'Acme.example' is not a lower-case DNS name");
  EXPECT_EQ(dns_error("*.example"),
            "config: tls_server.dns_names[1]: '*.example' is not a lower-case DNS name");
  EXPECT_EQ(dns_error(".example"), "config: tls_server.dns_names[1]: '.example' is not a DNS name");
  EXPECT_EQ(dns_error("a..example"),
            "config: tls_server.dns_names[1]: 'a..example' is not a DNS name");
  EXPECT_EQ(dns_error("-a.example"),
            "config: tls_server.dns_names[1]: '-a.example' is not a DNS name");
  EXPECT_EQ(dns_error("a,DNS:evil.example"),
            "config: tls_server.dns_names[1]: 'a,DNS:evil.example' is not a lower-case DNS name");
  EXPECT_EQ(
      dns_error(std::string(64, 'a') + ".example"),
      "config: tls_server.dns_names[1]: '" + std::string(64, 'a') + ".example' is not a DNS name");
  EXPECT_EQ(
      dns_error("10.0.0.1"),
      "config: tls_server.dns_names[1]: '10.0.0.1' is an IP address, not a DNS name (list it in "
      "ip_addresses)");
  EXPECT_EQ(dns_error("localhost"), "config: tls_server.dns_names[1]: 'localhost' is listed twice");

  auto ip_error = [](const std::string& ip) {
    json j = TlsServerConfig();
    j["tls_server"]["ip_addresses"] = {"127.0.0.1", ip};
    return ErrorOf(j);
  };
  for (std::string bad :
       {"256.0.0.1", "127.1", "1.2.3.4/8", "fe80::1%eth0", "::g", "localhost", " 10.0.0.1"}) {
    EXPECT_EQ(ip_error(bad),
              "config: tls_server.ip_addresses[1]: '" + bad + "' is not an IPv4 or IPv6 address")
        << bad;
  }
  // The same address spelled twice.
  json j = TlsServerConfig();
  j["tls_server"]["ip_addresses"] = {"::1", "0000:0000::0001"};
  EXPECT_EQ(ErrorOf(j), "config: tls_server.ip_addresses[1]: '0000:0000::0001' is listed twice");
  j = TlsServerConfig();
  j["tls_server"]["ip_addresses"] = {"127.0.0.1", 5};
  EXPECT_EQ(ErrorOf(j), "config: tls_server.ip_addresses: expected an array of strings");

  // The CN is one of the names (CA/B BR 7.1.4.3).
  j = TlsServerConfig();
  j["tls_server"]["subject"]["CN"] = "gateway";
  EXPECT_EQ(
      ErrorOf(j),
      "config: tls_server.subject.CN: 'gateway' must also be listed in dns_names or ip_addresses");
  j["tls_server"]["subject"]["CN"] = "0::1";  // an address matches in any spelling
  EXPECT_EQ(ErrorOf(j), "(parsed)");
}

TEST(ConfigTest, UnknownCeremony) {
  json j = RootConfig();
  j["ceremony"] = "sub-ca";
  EXPECT_EQ(
      ErrorOf(j),
      "config: ceremony: unknown ceremony 'sub-ca' (init-token, root, intermediate, ocsp-signer, "
      "root-crl, tls-server, staging, all)");
}

}  // namespace
}  // namespace ca::appliance::ceremony
