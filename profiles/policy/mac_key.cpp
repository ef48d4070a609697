#include "profiles/policy/mac_key.h"

#include <fcntl.h>
#include <grp.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/encoding.h"
#include "common/openssl.h"

namespace ca::profiles::policy {

namespace {

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

// Decodes base64url text into a Secret, wiping the intermediate buffer.
Result<Secret> DecodeKeyText(std::string_view text, size_t want, std::string_view what) {
  auto raw = Base64UrlDecode(text);
  if (!raw || raw->size() != want) {
    if (raw) OPENSSL_cleanse(raw->data(), raw->size());
    return Fail(ErrorCode::kInvalidArgument,
                std::string(what) + " is not " + std::to_string(want) + " bytes of base64url");
  }
  Secret s(std::string(reinterpret_cast<const char*>(raw->data()), raw->size()));
  OPENSSL_cleanse(raw->data(), raw->size());
  return s;
}

}  // namespace

Status CreateWrapKeyFile(const std::string& path, const std::string& group) {
  gid_t gid = static_cast<gid_t>(-1);
  if (!group.empty()) {
    struct group* g = ::getgrnam(group.c_str());
    if (g == nullptr) return Fail(ErrorCode::kInvalidArgument, "unknown group '" + group + "'");
    gid = g->gr_gid;
  }
  Bytes key = RandomBytes(kWrapKeyBytes);
  Secret text(Base64UrlEncode(key) + "\n");
  OPENSSL_cleanse(key.data(), key.size());
  CA_TRY_STATUS(ossl::WriteFileAtomic(path, text.view(), 0440, /*overwrite=*/false));
  if (gid != static_cast<gid_t>(-1) && ::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    int e = errno;
    ::unlink(path.c_str());
    return Fail(ErrorCode::kIo,
                "cannot give " + path + " to group " + group + ": " + std::strerror(e));
  }
  return Ok();
}

Result<Secret> LoadWrapKey(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return Fail(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                "wrapping key " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Fail(ErrorCode::kInvalidArgument, "wrapping key " + path + " is not a regular file");
  }
  if ((st.st_mode & (S_IWGRP | S_IRWXO)) != 0) {
    ::close(fd);
    return Fail(ErrorCode::kPermissionDenied,
                "wrapping key " + path +
                    " is writable by its group or accessible by others (chmod 0440 it)");
  }
  std::string content(256, '\0');
  ssize_t n = ::read(fd, content.data(), content.size());
  ::close(fd);
  if (n < 0) return Fail(ErrorCode::kIo, "cannot read wrapping key " + path);
  content.resize(static_cast<size_t>(n));
  Secret holder(std::move(content));
  std::string_view text = holder.view();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  return DecodeKeyText(text, kWrapKeyBytes, "wrapping key " + path);
}

Secret GenerateMacKey() {
  Bytes raw = RandomBytes(kMacKeyBytes);
  Secret s(std::string(reinterpret_cast<const char*>(raw.data()), raw.size()));
  OPENSSL_cleanse(raw.data(), raw.size());
  return s;
}

std::string MacKeyToText(const Secret& mac_key) {
  return Base64UrlEncode(std::span(mac_key.data(), mac_key.size()));
}

Result<std::string> WrapMacKey(std::string_view kid, const Secret& mac_key,
                               const Secret& wrap_key) {
  if (wrap_key.size() != kWrapKeyBytes)
    return Fail(ErrorCode::kInvalidArgument, "wrapping key must be 32 bytes");
  if (mac_key.size() != kMacKeyBytes)
    return Fail(ErrorCode::kInvalidArgument, "MAC key must be 32 bytes");
  Bytes out = RandomBytes(kNonceBytes);
  out.resize(kNonceBytes + kMacKeyBytes + kTagBytes);
  ossl::CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, wrap_key.data(), out.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const uint8_t*>(kid.data()),
                        static_cast<int>(kid.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data() + kNonceBytes, &len, mac_key.data(),
                        static_cast<int>(mac_key.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + kNonceBytes + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          out.data() + kNonceBytes + kMacKeyBytes) != 1) {
    return ossl::CryptoFail("AES-256-GCM wrap of the MAC key");
  }
  return Base64UrlEncode(out);
}

Result<Secret> UnwrapMacKey(const ExternalAccount& account, const Secret& wrap_key) {
  if (wrap_key.size() != kWrapKeyBytes)
    return Fail(ErrorCode::kInvalidArgument, "wrapping key must be 32 bytes");
  auto blob = Base64UrlDecode(account.mac_wrapped);
  if (!blob || blob->size() != kNonceBytes + kMacKeyBytes + kTagBytes) {
    return Fail(ErrorCode::kCorrupt, "wrapped MAC key of " + account.kid + " is malformed");
  }
  std::string plain(kMacKeyBytes, '\0');
  Secret holder;  // wipes `plain` on every path once moved in
  ossl::CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const uint8_t* nonce = blob->data();
  const uint8_t* ct = nonce + kNonceBytes;
  uint8_t* tag = blob->data() + kNonceBytes + kMacKeyBytes;
  bool ok = ctx &&
            EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, wrap_key.data(), nonce) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const uint8_t*>(account.kid.data()),
                              static_cast<int>(account.kid.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<uint8_t*>(plain.data()), &len, ct,
                              static_cast<int>(kMacKeyBytes)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) == 1;
  int final_len = 0;
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<uint8_t*>(plain.data()) + len,
                                 &final_len) == 1;
  holder = Secret(std::move(plain));
  if (!ok) {
    ossl::DrainErrors();
    return Fail(ErrorCode::kCrypto,
                "MAC key of " + account.kid +
                    " does not authenticate (tampered record or wrong wrapping key)");
  }
  return holder;
}

}  // namespace ca::profiles::policy

namespace ca::profiles::policy {

namespace {

// `what` names the key in the errors ("recipient key /path").
Result<ossl::Pkey> RsaPublicKeyFromPem(std::string_view pem, int min_bits, const std::string& what) {
  auto key = ossl::PublicKeyFromPem(pem);
  if (!key)
    return Fail(ErrorCode::kInvalidArgument, what + " is not a PEM public key (BEGIN PUBLIC KEY)");
  if (EVP_PKEY_get_base_id(key->get()) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key->get()) < min_bits)
    return Fail(ErrorCode::kInvalidArgument,
                what + " must be RSA of at least " + std::to_string(min_bits) + " bits");
  return key;
}

Result<ossl::Pkey> LoadRsaPublicKey(const std::string& path, int min_bits, std::string_view what) {
  auto pem = ossl::ReadFile(path);
  if (!pem) return Fail(pem.error().code, std::string(what) + " " + path + ": " + pem.error().message);
  return RsaPublicKeyFromPem(*pem, min_bits, std::string(what) + " " + path);
}

Result<Bytes> OaepEncrypt(const EVP_PKEY* to, const EVP_MD* md, std::span<const uint8_t> plain) {
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, const_cast<EVP_PKEY*>(to), nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1 ||
      EVP_PKEY_encrypt(ctx.get(), nullptr, &len, plain.data(), plain.size()) != 1)
    return ossl::CryptoFail("RSA-OAEP encryption");
  Bytes out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, plain.data(), plain.size()) != 1)
    return ossl::CryptoFail("RSA-OAEP encryption");
  out.resize(len);
  return out;
}

}  // namespace

Result<ossl::Pkey> LoadMacWrapPublicKey(const std::string& path) {
  return LoadRsaPublicKey(path, 3072, "MAC wrapping public key");
}

std::string MacBindingInput(std::string_view kid) {
  return "acme-ca eab mac key of kid " + std::string(kid);
}

Result<std::string> WrapMacKeyForHsm(std::string_view kid, const Secret& mac_key,
                                     const EVP_PKEY* hsm_public) {
  if (mac_key.size() != kMacKeyBytes)
    return Fail(ErrorCode::kInvalidArgument, "MAC key must be 32 bytes");
  // SHA-1 OAEP: what SoftHSMv2 2.6's C_UnwrapKey accepts (hsm/token.h).
  Bytes wrapped = CA_TRY(OaepEncrypt(hsm_public, EVP_sha1(), std::span(mac_key.data(), mac_key.size())));
  std::string binding_input = MacBindingInput(kid);
  Bytes binding(EVP_MAX_MD_SIZE);
  unsigned len = 0;
  if (HMAC(EVP_sha256(), mac_key.data(), static_cast<int>(mac_key.size()),
           reinterpret_cast<const uint8_t*>(binding_input.data()), binding_input.size(),
           binding.data(), &len) == nullptr)
    return ossl::CryptoFail("HMAC of the KeyID binding");
  binding.resize(len);
  return std::string(kHsmWrappedPrefix) + Base64UrlEncode(wrapped) + "." + Base64UrlEncode(binding);
}

Result<HsmWrappedMac> ParseHsmWrappedMac(std::string_view mac_wrapped) {
  if (!mac_wrapped.starts_with(kHsmWrappedPrefix))
    return Fail(ErrorCode::kCorrupt, "the MAC key is not wrapped to the HSM (run ca-ra migrate-mac-keys)");
  std::string_view rest = mac_wrapped.substr(kHsmWrappedPrefix.size());
  auto dot = rest.find('.');
  if (dot == std::string_view::npos) return Fail(ErrorCode::kCorrupt, "wrapped MAC key is malformed");
  auto wrapped = Base64UrlDecode(rest.substr(0, dot));
  auto binding = Base64UrlDecode(rest.substr(dot + 1));
  if (!wrapped || !binding || wrapped->empty() || binding->size() != 32)
    return Fail(ErrorCode::kCorrupt, "wrapped MAC key is malformed");
  return HsmWrappedMac{std::move(*wrapped), std::move(*binding)};
}

bool IsLegacyWrappedMac(const ExternalAccount& account) {
  return !account.mac_wrapped.starts_with(kHsmWrappedPrefix);
}

Result<ossl::Pkey> LoadRecipientPublicKey(const std::string& path) {
  return LoadRsaPublicKey(path, 2048, "recipient key");
}

Result<ossl::Pkey> RecipientPublicKeyFromPem(std::string_view pem) {
  return RsaPublicKeyFromPem(pem, 2048, "the registered recipient key");
}

Result<Bytes> EncryptMacKeyForRecipient(const Secret& mac_key, const EVP_PKEY* recipient) {
  Secret text(MacKeyToText(mac_key));
  return OaepEncrypt(recipient, EVP_sha256(), std::span(text.data(), text.size()));
}

}  // namespace ca::profiles::policy
