#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/sha.h>

#include <cstring>

#include "common/log.h"
#include "hsm/key_impl.h"

namespace ca::hsm {

Result<KeyType> ParseKeyType(std::string_view name) {
  if (name == "rsa3072") return KeyType::kRsa3072;
  if (name == "rsa4096") return KeyType::kRsa4096;
  if (name == "ec-p256") return KeyType::kEcP256;
  if (name == "ec-p384") return KeyType::kEcP384;
  return Fail(ErrorCode::kInvalidArgument,
              "unknown key type '" + std::string(name) + "' (rsa3072, rsa4096, ec-p256, ec-p384)");
}

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kRsa3072:
      return "rsa3072";
    case KeyType::kRsa4096:
      return "rsa4096";
    case KeyType::kEcP256:
      return "ec-p256";
    case KeyType::kEcP384:
      return "ec-p384";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Pool and recovery

Result<std::shared_ptr<TokenImpl>> TokenImpl::Create(const TokenConfig& config, Secret user_pin) {
  if (config.pool_size == 0) return Fail(ErrorCode::kInvalidArgument, "pool_size must be >= 1");
  if (config.token_label.empty()) return Fail(ErrorCode::kInvalidArgument, "empty token label");
  auto module = CA_TRY(p11::Module::Load(config.module_path));
  std::shared_ptr<TokenImpl> token(new TokenImpl(config, std::move(user_pin), std::move(module)));
  {
    std::lock_guard lock(token->recover_mu_);
    CA_TRY_STATUS(token->OpenPool());
  }
  return token;
}

TokenImpl::~TokenImpl() = default;

Status TokenImpl::OpenPool() {
  if (pin_failure_) return std::unexpected(*pin_failure_);
  CK_SLOT_ID slot = CA_TRY(module_->FindSlotByTokenLabel(config_.token_label));
  std::deque<p11::Session> sessions;
  for (size_t i = 0; i < config_.pool_size; ++i) {
    sessions.push_back(CA_TRY(p11::Session::Open(module_, slot)));
  }
  // Login state belongs to the application, not the session: one C_Login serves the pool.
  if (auto st = sessions.front().Login(CKU_USER, pin_); !st) {
    Error e = st.error();
    e.message += " (token '" + config_.token_label + "')";
    if (e.code == ErrorCode::kPermissionDenied) pin_failure_ = e;  // never try this PIN again
    return std::unexpected(e);
  }
  std::lock_guard lock(pool_mu_);
  slot_ = slot;
  sessions_ = std::move(sessions);
  free_.clear();
  for (const auto& s : sessions_) free_.push_back(&s);
  ++generation_;
  last_failure_.clear();
  return Ok();
}

std::optional<Lease> TokenImpl::Acquire() {
  std::unique_lock lock(pool_mu_);
  pool_cv_.wait(lock, [&] { return !recovering_ && (!free_.empty() || sessions_.empty()); });
  if (sessions_.empty()) return std::nullopt;
  Lease lease{free_.back(), generation_};
  free_.pop_back();
  ++leased_;
  return lease;
}

void TokenImpl::Release(const Lease& lease) {
  {
    std::lock_guard lock(pool_mu_);
    --leased_;
    if (lease.generation == generation_) free_.push_back(lease.session);
  }
  pool_cv_.notify_all();
}

uint64_t TokenImpl::Generation() {
  std::lock_guard lock(pool_mu_);
  return generation_;
}

Error TokenImpl::UnavailableError() {
  std::lock_guard lock(pool_mu_);
  return Error{ErrorCode::kUnavailable, "token '" + config_.token_label + "' is unavailable: " +
                                            (last_failure_.empty() ? "no session" : last_failure_)};
}

Status TokenImpl::Recover(uint64_t seen_generation) {
  std::lock_guard recover_lock(recover_mu_);
  if (pin_failure_) return std::unexpected(*pin_failure_);
  {
    std::unique_lock lock(pool_mu_);
    if (generation_ != seen_generation) return Ok();  // another thread already recovered
    // Wait for every borrowed session to come back: a session handle must not be closed (and
    // its number reused by the module) while another thread is still calling with it.
    recovering_ = true;
    pool_cv_.wait(lock, [&] { return leased_ == 0; });
    free_.clear();
    // The old handles are gone with the restart; closing them could close a session that the
    // module has since numbered the same way (SoftHSM reuses numbers). If they were still alive
    // (CKR_USER_NOT_LOGGED_IN), pool_size sessions are left to C_Finalize.
    for (auto& s : sessions_) s.Forget();
    sessions_.clear();
  }
  log::Warn("hsm_recovery", {{"token", config_.token_label}, {"generation", seen_generation}});
  Status st = OpenPool();
  {
    std::lock_guard lock(pool_mu_);
    recovering_ = false;
    if (!st) last_failure_ = st.error().message;
  }
  pool_cv_.notify_all();
  if (!st) {
    log::Error("hsm_recovery_failed",
               {{"token", config_.token_label}, {"error", st.error().message}});
  }
  return st;
}

Status TokenImpl::CloseAllSessionsForTest() {
  // Waits until no thread is inside a PKCS#11 call with a pooled session: SoftHSM frees a
  // session's crypto state in C_CloseAllSessions even while another thread is in C_Sign with it
  // (use after free). A real restart happens outside the process, so this loses nothing: the
  // signing threads still find every session dead on their next call and recover together.
  std::lock_guard recover_lock(recover_mu_);
  std::unique_lock lock(pool_mu_);
  recovering_ = true;
  pool_cv_.wait(lock, [&] { return leased_ == 0; });
  CK_RV rv = module_->fn()->C_CloseAllSessions(slot_);
  recovering_ = false;
  lock.unlock();
  pool_cv_.notify_all();
  if (rv != CKR_OK) return CkrFail("C_CloseAllSessions", rv);
  return Ok();
}

// ---------------------------------------------------------------------------------------------
// Objects

namespace {

// CKA_ID = SHA-1 of the subjectPublicKey BIT STRING contents: what OpenSSL (RFC 5280 method 1)
// puts in the certificates' subjectKeyIdentifier, so the token and the certificates agree.
Result<Bytes> KeyIdOf(const EVP_PKEY* public_key) {
  X509_PUBKEY* xpk = nullptr;
  if (!X509_PUBKEY_set(&xpk, const_cast<EVP_PKEY*>(public_key))) {
    return ossl::CryptoFail("encoding the public key");
  }
  const unsigned char* pk = nullptr;
  int pklen = 0;
  if (!X509_PUBKEY_get0_param(nullptr, &pk, &pklen, nullptr, xpk)) {
    X509_PUBKEY_free(xpk);
    return ossl::CryptoFail("encoding the public key");
  }
  Bytes id(SHA_DIGEST_LENGTH);
  unsigned int len = 0;
  bool ok = EVP_Digest(pk, static_cast<size_t>(pklen), id.data(), &len, EVP_sha1(), nullptr);
  X509_PUBKEY_free(xpk);
  if (!ok) return ossl::CryptoFail("SHA-1 of the public key");
  return id;
}

Result<Bytes> CurveOid(int nid) {
  unsigned char* der = nullptr;
  int len = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &der);
  if (len <= 0) return ossl::CryptoFail("curve OID");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Result<bool> HasLabel(const p11::Session& s, const std::string& label) {
  auto found = CA_TRY(s.Find({p11::AttrStr(CKA_LABEL, label)}));
  return !found.empty();
}

}  // namespace

Result<bool> TokenImpl::HasObject(const std::string& label) {
  std::function<Result<bool>(const Lease&)> op = [&](const Lease& lease) {
    return HasLabel(*lease.session, label);
  };
  return Run(op);
}

Result<std::shared_ptr<HsmKey>> TokenImpl::FindKey(const std::string& label) {
  auto self = std::static_pointer_cast<TokenImpl>(shared_from_this());
  std::function<Result<std::shared_ptr<HsmKey>>(const Lease&)> op =
      [&](const Lease& lease) -> Result<std::shared_ptr<HsmKey>> {
    auto located = LocateKey(*lease.session, label);
    if (!located) {
      Error e = located.error();
      if (e.code == ErrorCode::kNotFound) e.message += " on token '" + config_.token_label + "'";
      return std::unexpected(e);
    }
    return std::make_shared<HsmKeyImpl>(self, label, std::move(*located), lease.generation);
  };
  return Run(op);
}

Result<std::shared_ptr<HsmKey>> TokenImpl::GenerateKeyPair(KeyType type, const std::string& label,
                                                           KeyUsage usage) {
  if (label.empty()) return Fail(ErrorCode::kInvalidArgument, "empty key label");
  const bool unwrap = usage == KeyUsage::kUnwrap;
  if (unwrap && type != KeyType::kRsa3072 && type != KeyType::kRsa4096)
    return Fail(ErrorCode::kInvalidArgument, "an unwrapping key is RSA");
  CK_BBOOL sign_flag = unwrap ? CK_FALSE : CK_TRUE;
  CK_BBOOL wrap_flag = unwrap ? CK_TRUE : CK_FALSE;
  auto self = std::static_pointer_cast<TokenImpl>(shared_from_this());
  std::function<Result<std::shared_ptr<HsmKey>>(const Lease&)> op =
      [&](const Lease& lease) -> Result<std::shared_ptr<HsmKey>> {
    const p11::Session& s = *lease.session;
    if (CA_TRY(HasLabel(s, label))) {
      return Fail(ErrorCode::kAlreadyExists, "an object labelled '" + label +
                                                 "' already exists on token '" +
                                                 config_.token_label + "'");
    }
    CK_ULONG bits = type == KeyType::kRsa4096 ? 4096 : 3072;
    CK_BYTE exponent[] = {0x01, 0x00, 0x01};
    Bytes ec_params;
    bool rsa = type == KeyType::kRsa3072 || type == KeyType::kRsa4096;
    if (!rsa)
      ec_params = CA_TRY(CurveOid(type == KeyType::kEcP384 ? NID_secp384r1 : NID_X9_62_prime256v1));

    std::vector<CK_ATTRIBUTE> pub = {
        p11::AttrOf(CKA_TOKEN, p11::kTrue),  p11::AttrOf(CKA_PRIVATE, p11::kFalse),
        p11::AttrOf(CKA_VERIFY, sign_flag),  p11::AttrOf(CKA_ENCRYPT, p11::kFalse),
        p11::AttrOf(CKA_WRAP, wrap_flag),    p11::AttrStr(CKA_LABEL, label),
    };
    if (rsa) {
      pub.push_back(p11::AttrOf(CKA_MODULUS_BITS, bits));
      pub.push_back(p11::Attr(CKA_PUBLIC_EXPONENT, exponent, sizeof exponent));
    } else {
      pub.push_back(p11::AttrBytes(CKA_EC_PARAMS, ec_params));
    }
    std::vector<CK_ATTRIBUTE> priv = {
        p11::AttrOf(CKA_TOKEN, p11::kTrue),     p11::AttrOf(CKA_PRIVATE, p11::kTrue),
        p11::AttrOf(CKA_SENSITIVE, p11::kTrue), p11::AttrOf(CKA_EXTRACTABLE, p11::kFalse),
        p11::AttrOf(CKA_SIGN, sign_flag),       p11::AttrOf(CKA_DECRYPT, p11::kFalse),
        p11::AttrOf(CKA_UNWRAP, wrap_flag),     p11::AttrOf(CKA_DERIVE, p11::kFalse),
        p11::AttrStr(CKA_LABEL, label),
    };
    CK_MECHANISM mech{rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    CK_OBJECT_HANDLE pub_h = CK_INVALID_HANDLE, priv_h = CK_INVALID_HANDLE;
    CK_RV rv =
        s.fn()->C_GenerateKeyPair(s.handle(), &mech, pub.data(), static_cast<CK_ULONG>(pub.size()),
                                  priv.data(), static_cast<CK_ULONG>(priv.size()), &pub_h, &priv_h);
    if (rv != CKR_OK) return CkrFail("C_GenerateKeyPair", rv);

    // From here on a failure removes the half-made key pair: nothing is left behind.
    auto finish = [&]() -> Result<std::shared_ptr<HsmKey>> {
      LocatedKey located = CA_TRY(LocateKey(s, label));
      Bytes id = CA_TRY(KeyIdOf(located.public_key.get()));
      CK_ATTRIBUTE id_attr = p11::AttrBytes(CKA_ID, id);
      if (CK_RV r = s.fn()->C_SetAttributeValue(s.handle(), pub_h, &id_attr, 1); r != CKR_OK) {
        return CkrFail("C_SetAttributeValue(CKA_ID)", r);
      }
      if (CK_RV r = s.fn()->C_SetAttributeValue(s.handle(), priv_h, &id_attr, 1); r != CKR_OK) {
        return CkrFail("C_SetAttributeValue(CKA_ID)", r);
      }
      located.id = id;
      return std::make_shared<HsmKeyImpl>(self, label, std::move(located), lease.generation);
    };
    auto key = finish();
    if (!key) {
      s.fn()->C_DestroyObject(s.handle(), priv_h);
      s.fn()->C_DestroyObject(s.handle(), pub_h);
      return key;
    }
    log::Info("hsm_key_generated", {{"token", config_.token_label},
                                    {"label", label},
                                    {"type", std::string(KeyTypeName(type))},
                                    {"usage", unwrap ? "unwrap" : "sign"}});
    return key;
  };
  return Run(op);
}

Status TokenImpl::StoreCertificate(const std::string& label, const Bytes& id, const X509* cert) {
  if (cert == nullptr) return Fail(ErrorCode::kInvalidArgument, "no certificate");
  Bytes der = CA_TRY(ossl::CertToDer(cert));
  auto name_der = [](const X509_NAME* name) -> Result<Bytes> {
    unsigned char* p = nullptr;
    int len = i2d_X509_NAME(name, &p);
    if (len <= 0) return ossl::CryptoFail("certificate name");
    Bytes out(p, p + len);
    OPENSSL_free(p);
    return out;
  };
  Bytes subject = CA_TRY(name_der(X509_get_subject_name(cert)));
  Bytes issuer = CA_TRY(name_der(X509_get_issuer_name(cert)));
  unsigned char* sp = nullptr;
  int slen = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert), &sp);
  if (slen <= 0) return ossl::CryptoFail("certificate serial");
  Bytes serial(sp, sp + slen);
  OPENSSL_free(sp);

  std::function<Result<bool>(const Lease&)> op = [&](const Lease& lease) -> Result<bool> {
    const p11::Session& s = *lease.session;
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    auto existing = CA_TRY(s.Find({p11::AttrOf(CKA_CLASS, cls), p11::AttrStr(CKA_LABEL, label)}));
    if (!existing.empty()) {
      return Fail(ErrorCode::kAlreadyExists, "a certificate labelled '" + label +
                                                 "' already exists on token '" +
                                                 config_.token_label + "'");
    }
    CK_CERTIFICATE_TYPE ctype = CKC_X_509;
    std::vector<CK_ATTRIBUTE> tmpl = {
        p11::AttrOf(CKA_CLASS, cls),
        p11::AttrOf(CKA_CERTIFICATE_TYPE, ctype),
        p11::AttrOf(CKA_TOKEN, p11::kTrue),
        p11::AttrOf(CKA_PRIVATE, p11::kFalse),
        p11::AttrStr(CKA_LABEL, label),
        p11::AttrBytes(CKA_ID, id),
        p11::AttrBytes(CKA_SUBJECT, subject),
        p11::AttrBytes(CKA_ISSUER, issuer),
        p11::AttrBytes(CKA_SERIAL_NUMBER, serial),
        p11::AttrBytes(CKA_VALUE, der),
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv =
        s.fn()->C_CreateObject(s.handle(), tmpl.data(), static_cast<CK_ULONG>(tmpl.size()), &h);
    if (rv != CKR_OK) return CkrFail("C_CreateObject", rv);
    return true;
  };
  CA_TRY(Run(op));
  return Ok();
}

Result<std::shared_ptr<Token>> Token::Open(const TokenConfig& config, Secret user_pin) {
  auto token = CA_TRY(TokenImpl::Create(config, std::move(user_pin)));
  return std::shared_ptr<Token>(std::move(token));
}

// ---------------------------------------------------------------------------------------------
// Token initialisation

Status InitToken(const std::string& module_path, const std::string& token_label,
                 const Secret& so_pin, const Secret& user_pin) {
  if (token_label.empty() || token_label.size() > 32) {
    return Fail(ErrorCode::kInvalidArgument, "token label must be 1 to 32 bytes");
  }
  if (so_pin.empty() || user_pin.empty()) return Fail(ErrorCode::kInvalidArgument, "empty PIN");
  auto module = CA_TRY(p11::Module::Load(module_path));
  auto slots = CA_TRY(module->SlotsWithToken());
  std::optional<CK_SLOT_ID> free_slot;
  for (CK_SLOT_ID slot : slots) {
    auto info = CA_TRY(module->TokenInfo(slot));
    bool initialised = (info.flags & CKF_TOKEN_INITIALIZED) != 0;
    if (initialised && p11::TrimmedLabel(info.label) == token_label) {
      return Fail(ErrorCode::kAlreadyExists,
                  "a token labelled '" + token_label + "' is already initialised");
    }
    if (!initialised && !free_slot) free_slot = slot;
  }
  if (!free_slot) {
    return Fail(ErrorCode::kResourceExhausted,
                "no slot with an uninitialised token in '" + module->path() + "'");
  }
  CK_UTF8CHAR label32[32];
  std::memset(label32, ' ', sizeof label32);
  std::memcpy(label32, token_label.data(), token_label.size());
  CK_RV rv = module->fn()->C_InitToken(*free_slot, const_cast<CK_UTF8CHAR*>(so_pin.data()),
                                       static_cast<CK_ULONG>(so_pin.size()), label32);
  if (rv != CKR_OK) return CkrFail("C_InitToken", rv);
  // SoftHSM moves an initialised token to a new slot id: find it again by label.
  CK_SLOT_ID slot = CA_TRY(module->FindSlotByTokenLabel(token_label));
  auto session = CA_TRY(p11::Session::Open(module, slot));
  CA_TRY_STATUS(session.Login(CKU_SO, so_pin));
  rv = module->fn()->C_InitPIN(session.handle(), const_cast<CK_UTF8CHAR*>(user_pin.data()),
                               static_cast<CK_ULONG>(user_pin.size()));
  module->fn()->C_Logout(session.handle());
  if (rv != CKR_OK) return CkrFail("C_InitPIN", rv);
  log::Info("hsm_token_initialised", {{"token", token_label}, {"slot", slot}});
  return Ok();
}

}  // namespace ca::hsm
