#include "kv/postgres/location.h"

#include <gtest/gtest.h>

namespace ca::kv::postgres {
namespace {

TEST(PgLocation, ParsesServiceAndNamespace) {
  auto parsed = ParseLocation("pg:ca-pair_1.x/gateway-acme_2");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_EQ(parsed->service, "ca-pair_1.x");
  EXPECT_EQ(parsed->ns, "gateway-acme_2");
}

TEST(PgLocation, RefusesBadLocationsWithOneClearLine) {
  for (const char* bad :
       {"pg:", "pg:svc", "pg:svc/", "pg:/ns", "pg:svc/Upper", "pg:svc/a/b", "pg:svc/with space",
        "pg:s'vc/ns", "pg:svc/ns;drop", "pg:svc/0123456789012345678901234567890123456789012345678",
        "/var/lib/ca/store"}) {
    auto parsed = ParseLocation(bad);
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(parsed.error().message.find('\n'), std::string::npos);
    EXPECT_NE(parsed.error().message.find("want pg:<service>/<namespace>"), std::string::npos);
    EXPECT_NE(parsed.error().message.find(bad), std::string::npos);
  }
  EXPECT_TRUE(ParseLocation("pg:svc/012345678901234567890123456789012345678901234567").has_value());
}

TEST(PgLocation, ConninfoNamesServiceAndApplication) {
  EXPECT_EQ(Conninfo({"pair", "engine"}, "ca-engine"),
            "service=pair application_name='ca-engine:engine'");
  EXPECT_EQ(Conninfo({"pair", "engine"}, "it's"), "service=pair application_name='it\\'s:engine'");
}

}  // namespace
}  // namespace ca::kv::postgres
