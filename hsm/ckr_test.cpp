#include "hsm/ckr.h"

#include <gtest/gtest.h>

namespace ca::hsm {
namespace {

TEST(Ckr, NamesEveryStandardCodeAndVendorCodes) {
  EXPECT_EQ(CkrName(CKR_OK), "CKR_OK");
  EXPECT_EQ(CkrName(CKR_DEVICE_ERROR), "CKR_DEVICE_ERROR");
  EXPECT_EQ(CkrName(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
  EXPECT_EQ(CkrName(CKR_ATTRIBUTE_SENSITIVE), "CKR_ATTRIBUTE_SENSITIVE");
  EXPECT_EQ(CkrName(CKR_FUNCTION_REJECTED), "CKR_FUNCTION_REJECTED");
  EXPECT_EQ(CkrName(CKR_VENDOR_DEFINED + 0x12), "CKR_VENDOR_DEFINED+0x12");
  EXPECT_EQ(CkrName(0x4242), "CKR_0x4242");
}

TEST(Ckr, ErrorsNameOperationAndMapCodes) {
  Error e = CkrError("C_Sign", CKR_DEVICE_ERROR);
  EXPECT_EQ(e.code, ErrorCode::kHsm);
  EXPECT_EQ(e.message, "C_Sign: CKR_DEVICE_ERROR");
  EXPECT_EQ(CkrError("C_Login", CKR_PIN_INCORRECT).code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(CkrError("C_Login", CKR_PIN_LOCKED).code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(CkrError("C_Login", CKR_PIN_EXPIRED).code, ErrorCode::kPermissionDenied);
  for (CK_RV rv : {CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_DEVICE_REMOVED,
                   CKR_TOKEN_NOT_PRESENT, CKR_USER_NOT_LOGGED_IN}) {
    EXPECT_TRUE(IsRecoverable(rv)) << CkrName(rv);
    EXPECT_EQ(CkrError("C_SignInit", rv).code, ErrorCode::kUnavailable);
  }
  EXPECT_FALSE(IsRecoverable(CKR_PIN_INCORRECT));
  EXPECT_FALSE(IsRecoverable(CKR_DEVICE_ERROR));
}

}  // namespace
}  // namespace ca::hsm
