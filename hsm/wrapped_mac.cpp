// HMAC-SHA256 under a key that is only ever in clear inside the token: the EAB MAC keys are stored
// wrapped to an RSA key of the token (KeyUsage::kUnwrap) and verified here (token.h).
#include "hsm/token_impl.h"

namespace ca::hsm {

namespace {

// A session object destroyed when this goes out of scope (the unwrapped MAC key).
class SessionObject {
 public:
  SessionObject(const p11::Session& session, CK_OBJECT_HANDLE handle)
      : session_(session), handle_(handle) {}
  ~SessionObject() { session_.fn()->C_DestroyObject(session_.handle(), handle_); }
  SessionObject(const SessionObject&) = delete;
  SessionObject& operator=(const SessionObject&) = delete;
  CK_OBJECT_HANDLE handle() const { return handle_; }

 private:
  const p11::Session& session_;
  CK_OBJECT_HANDLE handle_;
};

}  // namespace

Result<std::vector<Bytes>> TokenImpl::HmacSha256WithWrappedKey(
    const std::string& unwrap_label, std::span<const uint8_t> wrapped,
    const std::vector<std::span<const uint8_t>>& inputs) {
  std::function<Result<std::vector<Bytes>>(const Lease&)> op =
      [&](const Lease& lease) -> Result<std::vector<Bytes>> {
    const p11::Session& s = *lease.session;
    CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY;
    auto found =
        CA_TRY(s.Find({p11::AttrOf(CKA_CLASS, priv_class), p11::AttrStr(CKA_LABEL, unwrap_label)}));
    if (found.size() != 1)
      return Fail(ErrorCode::kNotFound, "no single unwrapping key labelled '" + unwrap_label + "'");
    CK_RSA_PKCS_OAEP_PARAMS oaep{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
    CK_MECHANISM unwrap_mech{CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
    CK_OBJECT_CLASS secret_class = CKO_SECRET_KEY;
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
    std::vector<CK_ATTRIBUTE> tmpl = {
        p11::AttrOf(CKA_CLASS, secret_class),   p11::AttrOf(CKA_KEY_TYPE, generic),
        p11::AttrOf(CKA_TOKEN, p11::kFalse),    p11::AttrOf(CKA_PRIVATE, p11::kTrue),
        p11::AttrOf(CKA_SENSITIVE, p11::kTrue), p11::AttrOf(CKA_EXTRACTABLE, p11::kFalse),
        p11::AttrOf(CKA_SIGN, p11::kTrue),      p11::AttrOf(CKA_VERIFY, p11::kFalse),
        p11::AttrOf(CKA_ENCRYPT, p11::kFalse),  p11::AttrOf(CKA_DECRYPT, p11::kFalse),
        p11::AttrOf(CKA_WRAP, p11::kFalse),     p11::AttrOf(CKA_UNWRAP, p11::kFalse),
        p11::AttrOf(CKA_DERIVE, p11::kFalse),
    };
    CK_OBJECT_HANDLE mac_h = CK_INVALID_HANDLE;
    CK_RV rv = s.fn()->C_UnwrapKey(s.handle(), &unwrap_mech, found[0],
                                   const_cast<CK_BYTE_PTR>(wrapped.data()),
                                   static_cast<CK_ULONG>(wrapped.size()), tmpl.data(),
                                   static_cast<CK_ULONG>(tmpl.size()), &mac_h);
    // SoftHSMv2 answers CKR_GENERAL_ERROR when the OAEP decoding fails (a tampered blob).
    if (rv == CKR_GENERAL_ERROR || rv == CKR_ENCRYPTED_DATA_INVALID ||
        rv == CKR_ENCRYPTED_DATA_LEN_RANGE || rv == CKR_WRAPPED_KEY_INVALID ||
        rv == CKR_WRAPPED_KEY_LEN_RANGE)
      return Fail(ErrorCode::kCrypto, "C_UnwrapKey: the wrapped key does not unwrap");
    if (rv != CKR_OK) return CkrFail("C_UnwrapKey", rv);
    SessionObject mac_key(s, mac_h);
    std::vector<Bytes> out;
    for (auto input : inputs) {
      CK_MECHANISM hmac{CKM_SHA256_HMAC, nullptr, 0};
      if (CK_RV r = s.fn()->C_SignInit(s.handle(), &hmac, mac_key.handle()); r != CKR_OK)
        return CkrFail("C_SignInit(CKM_SHA256_HMAC)", r);
      Bytes mac(32);
      CK_ULONG len = mac.size();
      if (CK_RV r = s.fn()->C_Sign(s.handle(), const_cast<CK_BYTE_PTR>(input.data()),
                                   static_cast<CK_ULONG>(input.size()), mac.data(), &len);
          r != CKR_OK)
        return CkrFail("C_Sign(CKM_SHA256_HMAC)", r);
      mac.resize(len);
      out.push_back(std::move(mac));
    }
    return out;
  };
  return Run(op);
}

}  // namespace ca::hsm
