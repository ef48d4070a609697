// A thin RAII layer over the PKCS#11 C API (internal to hsm/): a loaded module, sessions, object
// search and attribute reads. Every failure names the C_* function and the CKR_* code.
#pragma once

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "hsm/ckr.h"

namespace ca::hsm::p11 {

using Bytes = std::vector<uint8_t>;

// A PKCS#11 library: dlopen + C_GetFunctionList + C_Initialize(CKF_OS_LOCKING_OK). One instance
// per canonical path per process, shared by every Token and by InitToken; C_Finalize runs when the
// last user releases it.
class Module {
 public:
  static Result<std::shared_ptr<Module>> Load(const std::string& path);
  // True while some user holds the module at `path` (so it stays C_Initialize'd).
  static bool IsLoaded(const std::string& path);
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST* fn() const { return fn_; }
  const std::string& path() const { return path_; }

  // Slots that have a token present (C_GetSlotList(CK_TRUE)).
  Result<std::vector<CK_SLOT_ID>> SlotsWithToken() const;
  Result<CK_TOKEN_INFO> TokenInfo(CK_SLOT_ID slot) const;
  // The slot whose initialised token carries `label`; kNotFound if none.
  Result<CK_SLOT_ID> FindSlotByTokenLabel(std::string_view label) const;

 private:
  static void Release(Module* module);
  Module(std::string path, void* handle, CK_FUNCTION_LIST* fn, bool finalize)
      : path_(std::move(path)), handle_(handle), fn_(fn), finalize_(finalize) {}
  std::string path_;
  void* handle_;
  CK_FUNCTION_LIST* fn_;
  bool finalize_;  // false if someone else in the process had initialised the module
};

// The token label as text: the 32 blank-padded bytes of CK_TOKEN_INFO.label, trailing blanks cut.
std::string TrimmedLabel(const CK_UTF8CHAR (&label)[32]);

// An open session; closed on destruction unless released. Move-only.
class Session {
 public:
  Session() = default;
  static Result<Session> Open(std::shared_ptr<Module> module, CK_SLOT_ID slot);
  ~Session();
  Session(Session&& other) noexcept;
  Session& operator=(Session&& other) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  CK_SESSION_HANDLE handle() const { return handle_; }
  CK_FUNCTION_LIST* fn() const { return module_->fn(); }
  bool valid() const { return module_ != nullptr; }

  // Drops the handle without C_CloseSession: for handles a token restart already invalidated,
  // whose number the module may have given to another session of this process since.
  void Forget() {
    module_ = nullptr;
    handle_ = CK_INVALID_HANDLE;
  }

  // C_Login; CKR_USER_ALREADY_LOGGED_IN counts as success (login state is per application).
  Status Login(CK_USER_TYPE user, const Secret& pin) const;

  // Objects matching the template (C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal).
  Result<std::vector<CK_OBJECT_HANDLE>> Find(std::vector<CK_ATTRIBUTE> tmpl) const;

  // Reads one attribute of variable length (two-call C_GetAttributeValue).
  Result<Bytes> GetBytes(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const;
  Result<CK_ULONG> GetUlong(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const;
  Result<bool> GetBool(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const;

 private:
  std::shared_ptr<Module> module_;
  CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
};

// Template helpers: attributes point at the caller's storage, which must outlive the call.
inline CK_ATTRIBUTE Attr(CK_ATTRIBUTE_TYPE type, const void* value, size_t len) {
  return CK_ATTRIBUTE{type, const_cast<void*>(value), static_cast<CK_ULONG>(len)};
}
template <class T>
CK_ATTRIBUTE AttrOf(CK_ATTRIBUTE_TYPE type, const T& value) {
  return Attr(type, &value, sizeof(T));
}
inline CK_ATTRIBUTE AttrStr(CK_ATTRIBUTE_TYPE type, const std::string& value) {
  return Attr(type, value.data(), value.size());
}
inline CK_ATTRIBUTE AttrBytes(CK_ATTRIBUTE_TYPE type, const Bytes& value) {
  return Attr(type, value.data(), value.size());
}

inline CK_BBOOL kTrue = CK_TRUE;
inline CK_BBOOL kFalse = CK_FALSE;

}  // namespace ca::hsm::p11
