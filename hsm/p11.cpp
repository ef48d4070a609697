#include "hsm/p11.h"

#include <dlfcn.h>

#include <filesystem>
#include <map>
#include <mutex>

namespace ca::hsm::p11 {
namespace {

std::mutex& RegistryMutex() {
  static std::mutex m;
  return m;
}

// Each handle given out is a shared_ptr with its own deleter; the registry counts them so that
// C_Finalize runs exactly when the last one goes, under the same lock as Load (a Load racing with
// the last release either reuses the live module or initialises after the finalize).
struct Entry {
  Module* module;
  size_t users;
};

std::map<std::string, Entry>& Registry() {
  static std::map<std::string, Entry> r;
  return r;
}

}  // namespace

std::string TrimmedLabel(const CK_UTF8CHAR (&label)[32]) {
  std::string s(reinterpret_cast<const char*>(label), sizeof label);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

Result<std::shared_ptr<Module>> Module::Load(const std::string& path) {
  std::error_code ec;
  if (path.empty() || !std::filesystem::is_regular_file(path, ec)) {
    return Fail(ErrorCode::kNotFound, "PKCS#11 module not found: '" + path + "'");
  }
  std::string canonical = std::filesystem::canonical(path, ec).string();
  if (ec) return Fail(ErrorCode::kIo, "PKCS#11 module '" + path + "': " + ec.message());

  std::lock_guard lock(RegistryMutex());
  auto& registry = Registry();
  if (auto it = registry.find(canonical); it != registry.end()) {
    ++it->second.users;
    return std::shared_ptr<Module>(it->second.module, &Module::Release);
  }

  // RTLD_NODELETE: modules (SoftHSM among them) register process-wide state that must not be
  // unmapped while other copies of the library state are still referenced.
  void* handle = dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) {
    const char* err = dlerror();
    return Fail(ErrorCode::kHsm, "dlopen '" + canonical + "': " + (err ? err : "unknown error"));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  if (get_list == nullptr) {
    dlclose(handle);
    return Fail(ErrorCode::kHsm,
                "'" + canonical + "' is not a PKCS#11 module (no C_GetFunctionList)");
  }
  CK_FUNCTION_LIST* fn = nullptr;
  if (CK_RV rv = get_list(&fn); rv != CKR_OK || fn == nullptr) {
    dlclose(handle);
    return CkrFail("C_GetFunctionList", rv == CKR_OK ? CKR_GENERAL_ERROR : rv);
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = fn->C_Initialize(&args);
  bool finalize = true;
  if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    finalize = false;  // someone else in the process owns the initialisation
  } else if (rv != CKR_OK) {
    dlclose(handle);
    return CkrFail("C_Initialize", rv);
  }
  auto* module = new Module(canonical, handle, fn, finalize);
  registry[canonical] = Entry{module, 1};
  return std::shared_ptr<Module>(module, &Module::Release);
}

bool Module::IsLoaded(const std::string& path) {
  std::error_code ec;
  std::string canonical = std::filesystem::canonical(path, ec).string();
  if (ec) return false;
  std::lock_guard lock(RegistryMutex());
  return Registry().contains(canonical);
}

void Module::Release(Module* module) {
  std::lock_guard lock(RegistryMutex());
  auto& registry = Registry();
  auto it = registry.find(module->path_);
  if (it == registry.end() || --it->second.users > 0) return;
  registry.erase(it);
  delete module;
}

Module::~Module() {
  if (finalize_) fn_->C_Finalize(nullptr);
  dlclose(handle_);
}

Result<std::vector<CK_SLOT_ID>> Module::SlotsWithToken() const {
  for (int attempt = 0; attempt < 4; ++attempt) {
    CK_ULONG count = 0;
    if (CK_RV rv = fn_->C_GetSlotList(CK_TRUE, nullptr, &count); rv != CKR_OK) {
      return CkrFail("C_GetSlotList", rv);
    }
    std::vector<CK_SLOT_ID> slots(count);
    CK_RV rv = fn_->C_GetSlotList(CK_TRUE, slots.data(), &count);
    if (rv == CKR_BUFFER_TOO_SMALL) continue;  // a slot appeared between the two calls
    if (rv != CKR_OK) return CkrFail("C_GetSlotList", rv);
    slots.resize(count);
    return slots;
  }
  return CkrFail("C_GetSlotList", CKR_BUFFER_TOO_SMALL);
}

Result<CK_TOKEN_INFO> Module::TokenInfo(CK_SLOT_ID slot) const {
  CK_TOKEN_INFO info{};
  if (CK_RV rv = fn_->C_GetTokenInfo(slot, &info); rv != CKR_OK) {
    return CkrFail("C_GetTokenInfo", rv);
  }
  return info;
}

Result<CK_SLOT_ID> Module::FindSlotByTokenLabel(std::string_view label) const {
  auto slots = CA_TRY(SlotsWithToken());
  for (CK_SLOT_ID slot : slots) {
    auto info = TokenInfo(slot);
    if (!info) continue;  // the token went away between the two calls
    if ((info->flags & CKF_TOKEN_INITIALIZED) != 0 && TrimmedLabel(info->label) == label) {
      return slot;
    }
  }
  return Fail(ErrorCode::kNotFound,
              "no token labelled '" + std::string(label) + "' in PKCS#11 module '" + path_ + "'");
}

Result<Session> Session::Open(std::shared_ptr<Module> module, CK_SLOT_ID slot) {
  Session s;
  CK_RV rv = module->fn()->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                                         nullptr, &s.handle_);
  if (rv != CKR_OK) return CkrFail("C_OpenSession", rv);
  s.module_ = std::move(module);
  return s;
}

Session::~Session() {
  if (module_ != nullptr) module_->fn()->C_CloseSession(handle_);
}

Session::Session(Session&& other) noexcept
    : module_(std::move(other.module_)), handle_(other.handle_) {
  other.module_ = nullptr;
  other.handle_ = CK_INVALID_HANDLE;
}

Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    if (module_ != nullptr) module_->fn()->C_CloseSession(handle_);
    module_ = std::move(other.module_);
    handle_ = other.handle_;
    other.module_ = nullptr;
    other.handle_ = CK_INVALID_HANDLE;
  }
  return *this;
}

Status Session::Login(CK_USER_TYPE user, const Secret& pin) const {
  CK_RV rv = fn()->C_Login(handle_, user, const_cast<CK_UTF8CHAR*>(pin.data()),
                           static_cast<CK_ULONG>(pin.size()));
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) return CkrFail("C_Login", rv);
  return Ok();
}

Result<std::vector<CK_OBJECT_HANDLE>> Session::Find(std::vector<CK_ATTRIBUTE> tmpl) const {
  CK_RV rv = fn()->C_FindObjectsInit(handle_, tmpl.data(), static_cast<CK_ULONG>(tmpl.size()));
  if (rv != CKR_OK) return CkrFail("C_FindObjectsInit", rv);
  std::vector<CK_OBJECT_HANDLE> found;
  CK_OBJECT_HANDLE batch[32];
  for (;;) {
    CK_ULONG n = 0;
    rv = fn()->C_FindObjects(handle_, batch, 32, &n);
    if (rv != CKR_OK) {
      fn()->C_FindObjectsFinal(handle_);
      return CkrFail("C_FindObjects", rv);
    }
    if (n == 0) break;
    found.insert(found.end(), batch, batch + n);
  }
  rv = fn()->C_FindObjectsFinal(handle_);
  if (rv != CKR_OK) return CkrFail("C_FindObjectsFinal", rv);
  return found;
}

Result<Bytes> Session::GetBytes(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const {
  CK_ATTRIBUTE attr{type, nullptr, 0};
  CK_RV rv = fn()->C_GetAttributeValue(handle_, object, &attr, 1);
  if (rv != CKR_OK) return CkrFail("C_GetAttributeValue", rv);
  if (attr.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    return CkrFail("C_GetAttributeValue", CKR_ATTRIBUTE_SENSITIVE);
  }
  Bytes value(attr.ulValueLen);
  attr.pValue = value.data();
  rv = fn()->C_GetAttributeValue(handle_, object, &attr, 1);
  if (rv != CKR_OK) return CkrFail("C_GetAttributeValue", rv);
  value.resize(attr.ulValueLen);
  return value;
}

Result<CK_ULONG> Session::GetUlong(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const {
  CK_ULONG value = 0;
  CK_ATTRIBUTE attr{type, &value, sizeof value};
  CK_RV rv = fn()->C_GetAttributeValue(handle_, object, &attr, 1);
  if (rv != CKR_OK) return CkrFail("C_GetAttributeValue", rv);
  return value;
}

Result<bool> Session::GetBool(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const {
  CK_BBOOL value = CK_FALSE;
  CK_ATTRIBUTE attr{type, &value, sizeof value};
  CK_RV rv = fn()->C_GetAttributeValue(handle_, object, &attr, 1);
  if (rv != CKR_OK) return CkrFail("C_GetAttributeValue", rv);
  return value == CK_TRUE;
}

}  // namespace ca::hsm::p11
