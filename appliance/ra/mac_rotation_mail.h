// The two mails of a scheduled MAC key rotation (R9, profiles/policy/admin/mac_rotation.h), built
// here and sent through the reporter's SMTP relay (reports/mail/smtp.h, the one mail library):
//  - the notice, `notice_days` before: when the key is replaced, that the new one will arrive
//    encrypted to the registered recipient key, and what it means for ACME accounts already made;
//  - the new key, sealed to the recipient key (RSA-OAEP SHA-256, base64), in the body and as the
//    attachment "mac-key-<KID>.b64", with the openssl command that opens it. The clear key never
//    reaches this code: only the sealed text does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "profiles/policy/model.h"
#include "reports/mail/message.h"

namespace ca::appliance::ra {

reports::mail::Message BuildMacRotationNotice(const profiles::policy::ExternalAccount& account,
                                              int64_t rotate_at, std::vector<std::string> to);

// `account.mac_rotation.undelivered` is the sealed key (base64).
reports::mail::Message BuildRotatedMacKeyMail(const profiles::policy::ExternalAccount& account,
                                              std::vector<std::string> to);

}  // namespace ca::appliance::ra
