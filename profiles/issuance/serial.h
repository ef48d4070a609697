// TEMP(s13): removed after the merge. Serial numbers live in pki/serial.h; these forwards keep
// tbs.* and lint.* (split on another branch) compiling until the lead applies the renames.
#pragma once

#include "pki/serial.h"

namespace ca::issuance {

using Serial = pki::Serial;  // TEMP(s13): removed after the merge
inline Serial GenerateSerial() { return pki::Serial::Generate(); }  // TEMP(s13)
inline std::string SerialToHex(const Serial& serial) { return serial.Hex(); }  // TEMP(s13)
inline Status ValidateSerial(const Serial& serial) { return serial.Validate(); }  // TEMP(s13)
inline Result<ossl::Asn1Integer> SerialToAsn1(const Serial& serial) {  // TEMP(s13)
  CA_TRY_STATUS(serial.Validate());
  return serial.ToAsn1();
}
inline Result<Serial> SerialFromAsn1(const ASN1_INTEGER* integer) {  // TEMP(s13)
  return pki::Serial::FromAsn1(integer);
}

}  // namespace ca::issuance
