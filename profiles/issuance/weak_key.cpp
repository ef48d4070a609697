#include "profiles/issuance/weak_key.h"

#include <openssl/core_names.h>
#include <openssl/err.h>

#include <array>
#include <bitset>
#include <limits>
#include <vector>

namespace ca::profiles::issuance {

namespace {

const std::vector<unsigned>& PrimesBelow(unsigned bound) {
  static const std::vector<unsigned> primes = [bound] {
    std::vector<bool> composite(bound, false);
    std::vector<unsigned> out;
    for (unsigned i = 2; i < bound; ++i) {
      if (composite[i]) continue;
      out.push_back(i);
      for (unsigned j = i * i; j < bound; j += i) composite[j] = true;
    }
    return out;
  }();
  return primes;
}

// ROCA: the odd primes of the published fingerprint (the first primes of the vulnerable
// generator's modulus M), and for each the subgroup <65537 mod p> as a bit set of residues.
constexpr std::array<unsigned, 38> kRocaPrimes = {
    3,  5,  7,  11, 13, 17,  19,  23,  29,  31,  37,  41,  43,  47,  53,  59,  61,  67,  71,
    73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167};

using Residues = std::bitset<168>;

const std::array<Residues, kRocaPrimes.size()>& RocaSubgroups() {
  static const std::array<Residues, kRocaPrimes.size()> groups = [] {
    std::array<Residues, kRocaPrimes.size()> out{};
    for (size_t i = 0; i < kRocaPrimes.size(); ++i) {
      unsigned p = kRocaPrimes[i];
      unsigned g = 65537 % p;
      unsigned x = 1;
      do {
        out[i].set(x);
        x = (x * g) % p;
      } while (x != 1);
    }
    return out;
  }();
  return groups;
}

// Quadratic-residue filter for perfect squares: x can be a square only if x mod m is a square
// modulo each of 64, 63, 65 and 11 (coprime, product below 2^32).
constexpr BN_ULONG kSquareFilterModulus = 64UL * 63 * 65 * 11;

bool MaybeSquare(BN_ULONG residue) {
  static const auto tables = [] {
    std::array<std::vector<bool>, 4> t;
    const std::array<unsigned, 4> mods = {64, 63, 65, 11};
    for (size_t i = 0; i < mods.size(); ++i) {
      t[i].assign(mods[i], false);
      for (unsigned k = 0; k < mods[i]; ++k) t[i][(k * k) % mods[i]] = true;
    }
    return t;
  }();
  return tables[0][residue % 64] && tables[1][residue % 63] && tables[2][residue % 65] &&
         tables[3][residue % 11];
}

std::unexpected<Error> Refuse(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, std::move(message));
}

}  // namespace

std::optional<unsigned> SmallPrimeFactor(const BIGNUM* n) {
  // One multi-precision division per group of primes whose product fits in a word, then each
  // prime against the word-sized residue: a quarter of the BN_mod_word calls.
  const auto& primes = PrimesBelow(kSmallPrimeBound);
  for (size_t i = 0; i < primes.size();) {
    BN_ULONG product = 1;
    size_t end = i;
    while (end < primes.size() && product <= std::numeric_limits<BN_ULONG>::max() / primes[end]) {
      product *= primes[end++];
    }
    BN_ULONG residue = BN_mod_word(n, product);
    for (; i < end; ++i) {
      if (residue % primes[i] == 0 && !BN_is_word(n, primes[i])) return primes[i];
    }
  }
  return std::nullopt;
}

Result<ossl::Bn> IntegerSqrt(const BIGNUM* n) {
  ossl::BnCtx ctx(BN_CTX_new());
  ossl::Bn x(BN_new()), next(BN_new()), quotient(BN_new());
  if (!ctx || !x || !next || !quotient) return ossl::CryptoFail("isqrt: allocate");
  if (BN_is_negative(n)) return Fail(ErrorCode::kInvalidArgument, "isqrt: negative");
  if (BN_is_zero(n)) {
    BN_zero(x.get());
    return x;
  }
  // Start above the root (2^ceil(bits/2)) and let Newton's iteration decrease to floor(sqrt(n)).
  if (BN_set_bit(x.get(), (BN_num_bits(n) + 1) / 2) != 1) return ossl::CryptoFail("isqrt");
  for (;;) {
    if (BN_div(quotient.get(), nullptr, n, x.get(), ctx.get()) != 1 ||
        BN_add(next.get(), x.get(), quotient.get()) != 1 ||
        BN_rshift1(next.get(), next.get()) != 1) {
      return ossl::CryptoFail("isqrt");
    }
    if (BN_cmp(next.get(), x.get()) >= 0) return x;
    std::swap(x, next);
  }
}

Result<bool> FermatFactorable(const BIGNUM* n, int rounds) {
  ossl::BnCtx ctx(BN_CTX_new());
  ossl::Bn a = CA_TRY(IntegerSqrt(n));
  ossl::Bn b2(BN_new()), square(BN_new());
  if (!ctx || !b2 || !square) return ossl::CryptoFail("fermat: allocate");
  // a = ceil(sqrt(n)).
  if (BN_sqr(square.get(), a.get(), ctx.get()) != 1) return ossl::CryptoFail("fermat");
  if (BN_cmp(square.get(), n) < 0 && BN_add_word(a.get(), 1) != 1)
    return ossl::CryptoFail("fermat");
  // b2 = a^2 − n; n = (a − b)(a + b) when b2 is a perfect square b^2. The next a's b2 is
  // b2 + a + (a + 1): two additions per round instead of a 3072-bit square.
  if (BN_sqr(square.get(), a.get(), ctx.get()) != 1 || BN_sub(b2.get(), square.get(), n) != 1) {
    return ossl::CryptoFail("fermat");
  }
  for (int i = 0; i < rounds; ++i) {
    // Most b2 are not squares modulo 64, 63, 65 or 11: one word-sized residue rules them out
    // without the square root.
    if (MaybeSquare(BN_mod_word(b2.get(), kSquareFilterModulus))) {
      ossl::Bn b = CA_TRY(IntegerSqrt(b2.get()));
      if (BN_sqr(square.get(), b.get(), ctx.get()) != 1) return ossl::CryptoFail("fermat");
      if (BN_cmp(square.get(), b2.get()) == 0) return true;
    }
    if (BN_add(b2.get(), b2.get(), a.get()) != 1 || BN_add_word(a.get(), 1) != 1 ||
        BN_add(b2.get(), b2.get(), a.get()) != 1) {
      return ossl::CryptoFail("fermat");
    }
  }
  return false;
}

bool HasRocaFingerprint(const BIGNUM* n) {
  const auto& groups = RocaSubgroups();
  for (size_t i = 0; i < kRocaPrimes.size(); ++i) {
    BN_ULONG residue = BN_mod_word(n, kRocaPrimes[i]);
    if (!groups[i].test(static_cast<size_t>(residue))) return false;
  }
  return true;
}

// "P-256" / "P-384" for the curves profiles name; "" for any other.
std::string EcCurveOf(const EVP_PKEY* key) {
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len) !=
      1)
    return "";
  std::string_view g(group, len);
  if (g == "prime256v1" || g == "P-256") return "P-256";
  if (g == "secp384r1" || g == "P-384") return "P-384";
  return std::string(g);
}

Status CheckKeyParameters(const EVP_PKEY* key, const Profile& profile) {
  if (key == nullptr) return Refuse("no public key");
  bool rsa = EVP_PKEY_is_a(key, "RSA") == 1;
  bool ec = EVP_PKEY_is_a(key, "EC") == 1;
  if ((!rsa || profile.rsa_key_bits.empty()) && (!ec || profile.ec_curves.empty())) {
    const char* type = EVP_PKEY_get0_type_name(key);
    return Refuse(std::string("key type ") + (type != nullptr ? type : "unknown") +
                  " not accepted: the profile requires " + profile.AcceptedKeysText());
  }
  if (ec) {
    std::string curve = EcCurveOf(key);
    if (!profile.AllowsEcCurve(curve))
      return Refuse("EC curve " + (curve.empty() ? std::string("unknown") : curve) +
                    " not accepted: the profile requires " + profile.AcceptedKeysText());
    return Ok();
  }
  int bits = EVP_PKEY_get_bits(key);
  if (!profile.AllowsRsaBits(bits)) {
    std::string allowed;
    for (int b : profile.rsa_key_bits)
      allowed += (allowed.empty() ? "" : " or ") + std::to_string(b);
    return Refuse("RSA key size " + std::to_string(bits) + " not accepted: the profile requires " +
                  allowed + " bits");
  }
  BIGNUM* e_raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e_raw) != 1)
    return ossl::CryptoFail("RSA e");
  ossl::Bn e(e_raw);
  if (!BN_is_word(e.get(), kRequiredPublicExponent)) {
    char* dec = BN_bn2dec(e.get());
    std::string shown = dec != nullptr ? dec : "?";
    OPENSSL_free(dec);
    if (shown.size() > 20) shown = shown.substr(0, 20) + "…";
    return Refuse("RSA public exponent " + shown + " not accepted: it must be 65537");
  }
  return Ok();
}

Status CheckSubscriberKey(const EVP_PKEY* key, const Profile& profile) {
  CA_TRY_STATUS(CheckKeyParameters(key, profile));
  if (EVP_PKEY_is_a(key, "EC") == 1) {
    // The point must lie on the curve (and not be the point at infinity).
    ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, const_cast<EVP_PKEY*>(key), nullptr));
    if (!ctx) return ossl::CryptoFail("EC check");
    bool valid = EVP_PKEY_public_check(ctx.get()) == 1;
    ERR_clear_error();
    if (!valid) return Refuse("weak key: the EC public key is not a valid point of its curve");
    return Ok();
  }
  BIGNUM* n_raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n_raw) != 1)
    return ossl::CryptoFail("RSA n");
  ossl::Bn n(n_raw);
  if (auto p = SmallPrimeFactor(n.get())) {
    return Refuse("weak key: the modulus is divisible by the small prime " + std::to_string(*p));
  }
  if (CA_TRY(FermatFactorable(n.get()))) {
    return Refuse("weak key: the modulus factors by Fermat's method (its primes are too close)");
  }
  if (HasRocaFingerprint(n.get())) {
    return Refuse("weak key: the modulus has the ROCA fingerprint (CVE-2017-15361)");
  }
  return Ok();
}

}  // namespace ca::profiles::issuance
