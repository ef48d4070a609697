// A PKCS#11 module for fault tests: forwards every call to the real module (SoftHSM by default,
// or $CA_PKCS11_SHIM_TARGET), counts C_Login calls, and can make the next C_Sign calls return a
// chosen CKR_* code (after running the real C_Sign, so the module's own state stays consistent).
// With $CA_PKCS11_SHIM_LOGIN_LOG set, each C_Login also appends a line "C_Login <CKR value>" to
// that file, so that a test can count the logins of another process.
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace {

CK_FUNCTION_LIST g_shim;
CK_FUNCTION_LIST* g_real = nullptr;
std::atomic<unsigned long> g_login_calls{0};
std::atomic<unsigned long> g_sign_failures_left{0};
std::atomic<CK_RV> g_sign_failure{CKR_OK};

CK_RV ShimLogin(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
  ++g_login_calls;
  CK_RV rv = g_real->C_Login(s, user, pin, len);
  if (const char* path = std::getenv("CA_PKCS11_SHIM_LOGIN_LOG"); path != nullptr) {
    if (FILE* f = std::fopen(path, "a"); f != nullptr) {
      std::fprintf(f, "C_Login 0x%lx\n", static_cast<unsigned long>(rv));
      std::fclose(f);
    }
  }
  return rv;
}

CK_RV ShimSign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
               CK_ULONG_PTR siglen) {
  CK_RV rv = g_real->C_Sign(s, data, len, sig, siglen);
  if (sig == nullptr) return rv;
  unsigned long left = g_sign_failures_left.load();
  while (left > 0) {
    if (g_sign_failures_left.compare_exchange_weak(left, left - 1)) return g_sign_failure.load();
  }
  return rv;
}

CK_RV ShimGetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

}  // namespace

extern "C" {

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  return ShimGetFunctionList(list);
}

__attribute__((visibility("default"))) unsigned long ca_shim_login_calls() {
  return g_login_calls.load();
}

__attribute__((visibility("default"))) void ca_shim_fail_next_signs(CK_RV rv, unsigned long count) {
  g_sign_failure.store(rv);
  g_sign_failures_left.store(count);
}

}  // extern "C"

namespace {

CK_RV ShimGetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  if (g_real == nullptr) {
    const char* target = std::getenv("CA_PKCS11_SHIM_TARGET");
    void* h = dlopen(target != nullptr ? target : "/usr/lib/softhsm/libsofthsm2.so",
                     RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (h == nullptr) return CKR_GENERAL_ERROR;
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(h, "C_GetFunctionList"));
    if (get == nullptr || get(&g_real) != CKR_OK || g_real == nullptr) return CKR_GENERAL_ERROR;
    g_shim = *g_real;
    g_shim.C_GetFunctionList = &C_GetFunctionList;
    g_shim.C_Login = &ShimLogin;
    g_shim.C_Sign = &ShimSign;
  }
  *list = &g_shim;
  return CKR_OK;
}

}  // namespace
