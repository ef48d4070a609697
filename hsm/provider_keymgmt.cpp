// KEYMGMT of the hsm-seam provider: key objects that hold an HsmKey and its software public key.
// Why export refuses the private half: see provider.cpp.
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/proverr.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>

#include <cstring>
#include <mutex>
#include <optional>
#include <utility>

#include "hsm/key_impl.h"
#include "hsm/provider_impl.h"

namespace ca::hsm::seam {
namespace {

// ---------------------------------------------------------------------------------------------
// Key objects

template <bool kEc>
void* KeyNew(void*) {
  auto* k = new (std::nothrow) SeamKey;
  if (k != nullptr) k->ec = kEc;
  return k;
}

void KeyFree(void* keydata) {
  delete static_cast<SeamKey*>(keydata);
}

int KeyHas(const void* keydata, int selection) {
  const auto* k = static_cast<const SeamKey*>(keydata);
  if (k == nullptr) return 0;
  if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && k->hsm == nullptr) return 0;
  if ((selection & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_ALL_PARAMETERS)) != 0 &&
      k->pub == nullptr) {
    return 0;
  }
  return 1;
}

int KeyMatch(const void* keydata1, const void* keydata2, int selection) {
  const auto* a = static_cast<const SeamKey*>(keydata1);
  const auto* b = static_cast<const SeamKey*>(keydata2);
  if (a == nullptr || b == nullptr || a->pub == nullptr || b->pub == nullptr) return 0;
  if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0) {
    return EVP_PKEY_eq(a->pub.get(), b->pub.get()) == 1 ? 1 : 0;
  }
  if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) != 0 && a->ec) {
    return EVP_PKEY_parameters_eq(a->pub.get(), b->pub.get()) == 1 ? 1 : 0;
  }
  return 1;
}

int KeyImport(void* keydata, int selection, const OSSL_PARAM params[]) {
  auto* k = static_cast<SeamKey*>(keydata);
  if (k == nullptr) return 0;
  if (const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, kHsmKeyParam)) {
    const void* ptr = nullptr;
    size_t len = 0;
    if (!OSSL_PARAM_get_octet_ptr(p, &ptr, &len) || ptr == nullptr ||
        len != sizeof(std::shared_ptr<HsmKey>)) {
      RaiseError(PROV_R_INVALID_KEY, "bad HSM key reference");
      return 0;
    }
    const auto& ref = *static_cast<const std::shared_ptr<HsmKey>*>(ptr);
    if (ref == nullptr || IsRsa(ref->type()) == k->ec) {
      RaiseError(PROV_R_INVALID_KEY, "HSM key reference of the wrong type");
      return 0;
    }
    EVP_PKEY* pub = const_cast<EVP_PKEY*>(ref->public_key());
    if (!EVP_PKEY_up_ref(pub)) return 0;
    k->pub.reset(pub);
    k->hsm = ref;
    return 1;
  }
  // Public parameters from another provider's key (key comparison). A private key's parameters
  // are refused: this provider holds no software private keys.
  if (OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_D) != nullptr ||
      OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY) != nullptr ||
      (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) == 0) {
    return 0;
  }
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, k->ec ? "EC" : "RSA", "provider=default"));
  EVP_PKEY* pub = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &pub, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) <=
          0) {
    return 0;
  }
  k->pub.reset(pub);
  k->hsm.reset();
  return 1;
}

const OSSL_PARAM kRsaImportTypes[] = {
    OSSL_PARAM_octet_ptr(kHsmKeyParam, nullptr, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0),
    OSSL_PARAM_END,
};
const OSSL_PARAM kEcImportTypes[] = {
    OSSL_PARAM_octet_ptr(kHsmKeyParam, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
    OSSL_PARAM_END,
};
const OSSL_PARAM kRsaExportTypes[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0),
    OSSL_PARAM_END,
};
const OSSL_PARAM kEcExportTypes[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
    OSSL_PARAM_END,
};
const OSSL_PARAM* RsaImportTypes(int) {
  return kRsaImportTypes;
}
const OSSL_PARAM* EcImportTypes(int) {
  return kEcImportTypes;
}
const OSSL_PARAM* RsaExportTypes(int) {
  return kRsaExportTypes;
}
const OSSL_PARAM* EcExportTypes(int) {
  return kEcExportTypes;
}

int KeyExport(void* keydata, int selection, OSSL_CALLBACK* cb, void* cbarg) {
  auto* k = static_cast<SeamKey*>(keydata);
  if (k == nullptr || k->pub == nullptr) return 0;
  if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0) return 0;  // never leaves the HSM
  OSSL_PARAM* params = nullptr;
  if (EVP_PKEY_todata(k->pub.get(), EVP_PKEY_PUBLIC_KEY, &params) <= 0) return 0;
  int ok = cb(params, cbarg);
  OSSL_PARAM_free(params);
  return ok;
}

int KeyGetParams(void* keydata, OSSL_PARAM params[]) {
  auto* k = static_cast<SeamKey*>(keydata);
  if (k == nullptr || k->pub == nullptr) return 0;
  // Bits, security bits, max signature size, group, public values: the public key knows them.
  if (!EVP_PKEY_get_params(k->pub.get(), params)) return 0;
  if (OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST)) {
    const char* md = "SHA256";
    if (k->hsm != nullptr && k->hsm->type() == KeyType::kEcP384) md = "SHA384";
    if (!OSSL_PARAM_set_utf8_string(p, md)) return 0;
  }
  return 1;
}

const OSSL_PARAM kRsaGettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, nullptr, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0),
    OSSL_PARAM_END,
};
const OSSL_PARAM kEcGettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0),
    OSSL_PARAM_END,
};
const OSSL_PARAM* RsaGettable(void*) {
  return kRsaGettable;
}
const OSSL_PARAM* EcGettable(void*) {
  return kEcGettable;
}

void* KeyDup(const void* keydata, int) {
  const auto* k = static_cast<const SeamKey*>(keydata);
  if (k == nullptr) return nullptr;
  auto* copy = new (std::nothrow) SeamKey;
  if (copy == nullptr) return nullptr;
  copy->ec = k->ec;
  copy->hsm = k->hsm;
  if (k->pub != nullptr) {
    if (!EVP_PKEY_up_ref(k->pub.get())) {
      delete copy;
      return nullptr;
    }
    copy->pub.reset(k->pub.get());
  }
  return copy;
}

const char* RsaOperationName(int op) {
  return op == OSSL_OP_SIGNATURE ? "RSA" : nullptr;
}
const char* EcOperationName(int op) {
  return op == OSSL_OP_SIGNATURE ? "ECDSA" : nullptr;
}

}  // namespace

const OSSL_DISPATCH kRsaKeymgmt[] = {
    {OSSL_FUNC_KEYMGMT_NEW, Fn(&KeyNew<false>)},
    {OSSL_FUNC_KEYMGMT_FREE, Fn(&KeyFree)},
    {OSSL_FUNC_KEYMGMT_HAS, Fn(&KeyHas)},
    {OSSL_FUNC_KEYMGMT_MATCH, Fn(&KeyMatch)},
    {OSSL_FUNC_KEYMGMT_IMPORT, Fn(&KeyImport)},
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, Fn(&RsaImportTypes)},
    {OSSL_FUNC_KEYMGMT_EXPORT, Fn(&KeyExport)},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, Fn(&RsaExportTypes)},
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, Fn(&KeyGetParams)},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, Fn(&RsaGettable)},
    {OSSL_FUNC_KEYMGMT_DUP, Fn(&KeyDup)},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, Fn(&RsaOperationName)},
    {0, nullptr},
};

const OSSL_DISPATCH kEcKeymgmt[] = {
    {OSSL_FUNC_KEYMGMT_NEW, Fn(&KeyNew<true>)},
    {OSSL_FUNC_KEYMGMT_FREE, Fn(&KeyFree)},
    {OSSL_FUNC_KEYMGMT_HAS, Fn(&KeyHas)},
    {OSSL_FUNC_KEYMGMT_MATCH, Fn(&KeyMatch)},
    {OSSL_FUNC_KEYMGMT_IMPORT, Fn(&KeyImport)},
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, Fn(&EcImportTypes)},
    {OSSL_FUNC_KEYMGMT_EXPORT, Fn(&KeyExport)},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, Fn(&EcExportTypes)},
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, Fn(&KeyGetParams)},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, Fn(&EcGettable)},
    {OSSL_FUNC_KEYMGMT_DUP, Fn(&KeyDup)},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, Fn(&EcOperationName)},
    {0, nullptr},
};

}  // namespace ca::hsm::seam
