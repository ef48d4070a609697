#include "pki/crl_builder.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "common/encoding.h"
#include "pki/cert_builder.h"

namespace ca::pki {

namespace {

using AuthorityKeyId = ossl::Owned<AUTHORITY_KEYID, AUTHORITY_KEYID_free>;
using Asn1Enumerated = ossl::Owned<ASN1_ENUMERATED, ASN1_ENUMERATED_free>;
using Asn1GeneralizedTime = ossl::Owned<ASN1_GENERALIZEDTIME, ASN1_GENERALIZEDTIME_free>;

// keyIdentifier = the issuer's SKI, or (no SKI) the SHA-1 of its public key (RFC 5280 §4.2.1.2).
Status AddAuthorityKeyId(X509_CRL* crl, const X509* issuer) {
  AuthorityKeyId akid(AUTHORITY_KEYID_new());
  if (!akid) return ossl::CryptoFail("allocate AKI");
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(const_cast<X509*>(issuer));
  if (ski != nullptr) {
    akid->keyid = ASN1_OCTET_STRING_dup(ski);
  } else {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_pubkey_digest(issuer, EVP_sha1(), md, &len) != 1) return ossl::CryptoFail("hash key");
    akid->keyid = ASN1_OCTET_STRING_new();
    if (akid->keyid != nullptr &&
        ASN1_OCTET_STRING_set(akid->keyid, md, static_cast<int>(len)) != 1) {
      return ossl::CryptoFail("set AKI");
    }
  }
  if (akid->keyid == nullptr) return ossl::CryptoFail("set AKI");
  if (X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid.get(), 0, X509V3_ADD_DEFAULT) !=
      1) {
    return ossl::CryptoFail("add AKI to CRL");
  }
  return Ok();
}

Result<ossl::Asn1Time> ToAsn1Time(Time t) {
  // ASN1_TIME_set picks UTCTime before 2050 and GeneralizedTime after (RFC 5280 §5.1.2.4).
  ossl::Asn1Time out(ASN1_TIME_set(nullptr, static_cast<time_t>(t.time_since_epoch().count())));
  if (!out) return ossl::CryptoFail("encode time");
  return out;
}

// The enum may hold a value cast from anywhere: only the reasons this CA issues are encoded.
Status CheckReason(const CrlEntry& entry) {
  if (ReasonFromCode(ReasonCode(entry.reason))) return Ok();
  return Fail(ErrorCode::kInvalidArgument, "CRL entry " + entry.serial.Hex() +
                                               ": unknown or refused CRLReason code " +
                                               std::to_string(ReasonCode(entry.reason)));
}

// Reused scratch values: X509_REVOKED_set_* copy their argument, so one of each suffices.
struct EntryScratch {
  ossl::Asn1Integer serial{ASN1_INTEGER_new()};
  ossl::Asn1Time date{ASN1_TIME_new()};
  Asn1Enumerated reason{ASN1_ENUMERATED_new()};
  Asn1GeneralizedTime invalidity{ASN1_GENERALIZEDTIME_new()};
};

Result<ossl::X509Revoked> MakeRevoked(const CrlEntry& entry, EntryScratch& s) {
  const Bytes& m = entry.serial.magnitude;
  if (m.empty() || m.front() == 0) {
    return Fail(ErrorCode::kInvalidArgument, "CRL entry with an empty or non-normalised serial");
  }
  ossl::X509Revoked rev(X509_REVOKED_new());
  if (!rev) return ossl::CryptoFail("allocate CRL entry");
  // OpenSSL keeps an INTEGER as its unsigned magnitude; the encoder adds the sign octet.
  if (ASN1_STRING_set(s.serial.get(), m.data(), static_cast<int>(m.size())) != 1 ||
      X509_REVOKED_set_serialNumber(rev.get(), s.serial.get()) != 1) {
    return ossl::CryptoFail("set CRL entry serial");
  }
  if (ASN1_TIME_set(s.date.get(),
                    static_cast<time_t>(entry.revocation_time.time_since_epoch().count())) ==
          nullptr ||
      X509_REVOKED_set_revocationDate(rev.get(), s.date.get()) != 1) {
    return ossl::CryptoFail("set CRL entry date");
  }
  if (entry.reason != RevocationReason::kUnspecified) {
    CA_TRY_STATUS(CheckReason(entry));
    if (ASN1_ENUMERATED_set(s.reason.get(), ReasonCode(entry.reason)) != 1 ||
        X509_REVOKED_add1_ext_i2d(rev.get(), NID_crl_reason, s.reason.get(), 0,
                                  X509V3_ADD_DEFAULT) != 1) {
      return ossl::CryptoFail("add reasonCode");
    }
  }
  if (entry.invalidity_date) {
    if (ASN1_GENERALIZEDTIME_set(
            s.invalidity.get(),
            static_cast<time_t>(entry.invalidity_date->time_since_epoch().count())) == nullptr ||
        X509_REVOKED_add1_ext_i2d(rev.get(), NID_invalidity_date, s.invalidity.get(), 0,
                                  X509V3_ADD_DEFAULT) != 1) {
      return ossl::CryptoFail("add invalidityDate");
    }
  }
  return rev;
}

// DER assembly: OpenSSL encodes every value (i2d_*) and writes every tag/length header
// (ASN1_put_object); this code only concatenates them. See BuildCrl for why.
void PutHeader(Bytes& out, int tag, int xclass, size_t content_len) {
  int total = ASN1_object_size(1, static_cast<int>(content_len), tag);
  size_t at = out.size();
  out.resize(at + static_cast<size_t>(total) - content_len);
  unsigned char* p = out.data() + at;
  ASN1_put_object(&p, 1, static_cast<int>(content_len), tag, xclass);
}

template <class T>
Status Append(Bytes& out, const T* value, int (*i2d)(const T*, unsigned char**), const char* what) {
  int len = i2d(value, nullptr);
  if (len <= 0) return ossl::CryptoFail(what);
  size_t at = out.size();
  out.resize(at + static_cast<size_t>(len));
  unsigned char* p = out.data() + at;
  if (i2d(value, &p) != len) return ossl::CryptoFail(what);
  return Ok();
}

const EVP_MD* Digest(const CrlRequest& request) {
  return request.digest != nullptr ? request.digest : EVP_sha256();
}

// Everything but the entries, signed once so that OpenSSL chooses the signature
// AlgorithmIdentifier for this key exactly as X509_CRL_sign does.
Result<ossl::X509Crl> Skeleton(const CrlRequest& request) {
  ossl::X509Crl crl(X509_CRL_new());
  if (!crl) return ossl::CryptoFail("allocate CRL");
  ossl::Asn1Time this_update = CA_TRY(ToAsn1Time(request.this_update));
  ossl::Asn1Time next_update = CA_TRY(ToAsn1Time(request.next_update));
  ossl::Asn1Integer number(ASN1_INTEGER_new());
  if (X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(request.issuer)) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1 || !number ||
      ASN1_INTEGER_set_uint64(number.get(), request.number) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return ossl::CryptoFail("set CRL fields");
  }
  CA_TRY_STATUS(AddAuthorityKeyId(crl.get(), request.issuer));
  if (!request.distribution_point.empty()) {
    ossl::X509Ext idp = CA_TRY(IssuingDistributionPointExt(request.distribution_point));
    if (X509_CRL_add_ext(crl.get(), idp.get(), -1) != 1) return ossl::CryptoFail("add IDP to CRL");
  }
  if (X509_CRL_sign(crl.get(), request.key, Digest(request)) <= 0)
    return ossl::CryptoFail("sign CRL");
  return crl;
}

// Sort key: serial length then magnitude (numeric order for normalised positive serials, the
// order X509_CRL_sort uses), stored inline so that sorting 1M entries touches contiguous memory.
struct SortKey {
  std::array<uint8_t, 21> key;  // [0] = length, then the magnitude, zero padded
  uint32_t index;
};

// revokedCertificates content: entries sorted by serial (numeric order, as X509_CRL_sort), each
// encoded by i2d_X509_REVOKED from a reused per-reason object: no per-entry object survives.
Result<Bytes> EncodeEntries(std::span<const CrlEntry> entries) {
  if (entries.size() > UINT32_MAX)
    return Fail(ErrorCode::kResourceExhausted, "too many CRL entries");
  std::vector<SortKey> order(entries.size());
  for (uint32_t i = 0; i < order.size(); ++i) {
    const Bytes& m = entries[i].serial.magnitude;
    if (m.empty() || m.front() == 0 || m.size() > 20) {
      return Fail(ErrorCode::kInvalidArgument,
                  "CRL entry with an empty, non-normalised or too long serial");
    }
    order[i].key.fill(0);
    order[i].key[0] = static_cast<uint8_t>(m.size());
    std::memcpy(order[i].key.data() + 1, m.data(), m.size());
    order[i].index = i;
  }
  std::sort(order.begin(), order.end(), [](const SortKey& a, const SortKey& b) {
    return std::memcmp(a.key.data(), b.key.data(), a.key.size()) < 0;
  });
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i - 1].key == order[i].key) {
      return Fail(
          ErrorCode::kInvalidArgument,
          "serial " + entries[order[i].index].serial.Hex() + " listed twice in the CRL");
    }
  }
  EntryScratch scratch;
  if (!scratch.serial || !scratch.date || !scratch.reason || !scratch.invalidity) {
    return ossl::CryptoFail("allocate CRL scratch values");
  }
  // One template per reason; entries with an invalidity date get their own object.
  std::array<ossl::X509Revoked, 11> templates;
  constexpr size_t kMaxEntryDer = 512;  // a 20-octet serial with both extensions is < 128
  Bytes out;
  out.reserve(entries.size() * 64 + kMaxEntryDer);
  for (const SortKey& k : order) {
    const CrlEntry& entry = entries[k.index];
    const uint8_t* serial = k.key.data() + 1;  // the magnitude, already in cache
    int serial_len = k.key[0];
    ossl::X509Revoked fresh;
    X509_REVOKED* rev = nullptr;
    if (entry.invalidity_date) {
      fresh = CA_TRY(MakeRevoked(entry, scratch));
      rev = fresh.get();
    } else {
      CA_TRY_STATUS(CheckReason(entry));
      auto& slot = templates[static_cast<size_t>(entry.reason)];
      if (!slot) slot = CA_TRY(MakeRevoked(entry, scratch));
      rev = slot.get();
      if (ASN1_STRING_set(scratch.serial.get(), serial, serial_len) != 1 ||
          X509_REVOKED_set_serialNumber(rev, scratch.serial.get()) != 1 ||
          ASN1_TIME_set(scratch.date.get(),
                        static_cast<time_t>(entry.revocation_time.time_since_epoch().count())) ==
              nullptr ||
          X509_REVOKED_set_revocationDate(rev, scratch.date.get()) != 1) {
        return ossl::CryptoFail("set CRL entry");
      }
    }
    size_t at = out.size();
    out.resize(at + kMaxEntryDer);
    unsigned char* p = out.data() + at;
    int len = i2d_X509_REVOKED(rev, &p);
    if (len <= 0 || static_cast<size_t>(len) > kMaxEntryDer)
      return ossl::CryptoFail("encode CRL entry");
    out.resize(at + static_cast<size_t>(len));
  }
  return out;
}

}  // namespace

// Why not X509_CRL_add0_revoked + X509_CRL_sign + i2d: OpenSSL's template encoder re-walks every
// nested SEQUENCE to compute lengths, so one encoding of a 1M-entry CRL costs ~4 s and signing
// plus output needs two, and freeing 1M X509_REVOKED objects another ~4 s (measured: 32 s for
// 1M entries). Here OpenSSL still encodes every value and header and signs; each entry is encoded
// once into one contiguous buffer, the TBSCertList is hashed once and never re-encoded.
Result<Bytes> BuildCrl(const CrlRequest& request) {
  if (request.issuer == nullptr || request.key == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, "CRL needs the issuer certificate and its key");
  }
  if (request.number == 0) return Fail(ErrorCode::kInvalidArgument, "CRL number must be positive");
  if (request.next_update <= request.this_update) {
    return Fail(ErrorCode::kInvalidArgument, "CRL nextUpdate must be after thisUpdate");
  }
  ossl::X509Crl skeleton = CA_TRY(Skeleton(request));
  Bytes revoked = CA_TRY(EncodeEntries(request.entries));
  if (revoked.size() > (size_t{1} << 30)) {
    return Fail(ErrorCode::kResourceExhausted, "CRL larger than 1 GiB");
  }

  // TBSCertList ::= SEQUENCE { version, signature, issuer, thisUpdate, nextUpdate,
  //                            revokedCertificates (omitted when empty), [0] crlExtensions }
  Bytes fields;
  ossl::Asn1Integer version(ASN1_INTEGER_new());
  const ASN1_BIT_STRING* skeleton_sig = nullptr;
  const X509_ALGOR* sig_alg = nullptr;
  X509_CRL_get0_signature(skeleton.get(), &skeleton_sig, &sig_alg);
  if (!version || ASN1_INTEGER_set(version.get(), X509_CRL_VERSION_2) != 1) {
    return ossl::CryptoFail("encode CRL version");
  }
  CA_TRY_STATUS(Append(fields, version.get(), i2d_ASN1_INTEGER, "encode CRL version"));
  CA_TRY_STATUS(Append(fields, sig_alg, i2d_X509_ALGOR, "encode signature algorithm"));
  CA_TRY_STATUS(
      Append(fields, X509_get_subject_name(request.issuer), i2d_X509_NAME, "encode issuer"));
  CA_TRY_STATUS(
      Append(fields, X509_CRL_get0_lastUpdate(skeleton.get()), i2d_ASN1_TIME, "encode thisUpdate"));
  CA_TRY_STATUS(
      Append(fields, X509_CRL_get0_nextUpdate(skeleton.get()), i2d_ASN1_TIME, "encode nextUpdate"));
  Bytes extensions;
  CA_TRY_STATUS(Append(extensions, X509_CRL_get0_extensions(skeleton.get()), i2d_X509_EXTENSIONS,
                       "encode CRL extensions"));
  size_t revoked_total = revoked.empty()
                             ? 0
                             : static_cast<size_t>(ASN1_object_size(
                                   1, static_cast<int>(revoked.size()), V_ASN1_SEQUENCE));
  size_t ext_total =
      static_cast<size_t>(ASN1_object_size(1, static_cast<int>(extensions.size()), 0));
  size_t tbs_content = fields.size() + revoked_total + ext_total;

  Bytes tbs;
  tbs.reserve(tbs_content + 16);
  PutHeader(tbs, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, tbs_content);
  tbs.insert(tbs.end(), fields.begin(), fields.end());
  if (!revoked.empty()) {
    PutHeader(tbs, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, revoked.size());
    tbs.insert(tbs.end(), revoked.begin(), revoked.end());
    Bytes().swap(revoked);
  }
  PutHeader(tbs, 0, V_ASN1_CONTEXT_SPECIFIC, extensions.size());
  tbs.insert(tbs.end(), extensions.begin(), extensions.end());

  // Sign the TBSCertList as X509_CRL_sign did for the skeleton; check it under the issuer key.
  ossl::MdCtx sign_ctx(EVP_MD_CTX_new());
  size_t sig_len = 0;
  if (!sign_ctx ||
      EVP_DigestSignInit(sign_ctx.get(), nullptr, Digest(request), nullptr, request.key) != 1 ||
      EVP_DigestSignUpdate(sign_ctx.get(), tbs.data(), tbs.size()) != 1 ||
      EVP_DigestSignFinal(sign_ctx.get(), nullptr, &sig_len) != 1) {
    return ossl::CryptoFail("sign CRL");
  }
  Bytes sig(sig_len);
  if (EVP_DigestSignFinal(sign_ctx.get(), sig.data(), &sig_len) != 1)
    return ossl::CryptoFail("sign CRL");
  sig.resize(sig_len);
  ossl::MdCtx verify_ctx(EVP_MD_CTX_new());
  if (!verify_ctx ||
      EVP_DigestVerifyInit(verify_ctx.get(), nullptr, Digest(request), nullptr,
                           X509_get0_pubkey(request.issuer)) != 1 ||
      EVP_DigestVerify(verify_ctx.get(), sig.data(), sig.size(), tbs.data(), tbs.size()) != 1) {
    ossl::DrainErrors();
    return Fail(ErrorCode::kCrypto,
                "CRL signature does not verify under the issuer key (wrong key?)");
  }
  ossl::Owned<ASN1_BIT_STRING, ASN1_BIT_STRING_free> bits(ASN1_BIT_STRING_new());
  if (!bits || ASN1_BIT_STRING_set(bits.get(), sig.data(), static_cast<int>(sig.size())) != 1) {
    return ossl::CryptoFail("encode CRL signature");
  }
  bits->flags = (bits->flags & ~0x07L) | ASN1_STRING_FLAG_BITS_LEFT;  // no unused bits
  Bytes tail;
  CA_TRY_STATUS(Append(tail, sig_alg, i2d_X509_ALGOR, "encode signature algorithm"));
  CA_TRY_STATUS(Append(tail, static_cast<const ASN1_BIT_STRING*>(bits.get()), i2d_ASN1_BIT_STRING,
                       "encode signature"));

  // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }
  Bytes out;
  out.reserve(tbs.size() + tail.size() + 16);
  PutHeader(out, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, tbs.size() + tail.size());
  out.insert(out.end(), tbs.begin(), tbs.end());
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

Result<std::optional<IssuingDistributionPoint>> ReadIssuingDistributionPoint(const X509_CRL* crl) {
  int critical = 0;
  ossl::Owned<ISSUING_DIST_POINT, ISSUING_DIST_POINT_free> idp(static_cast<ISSUING_DIST_POINT*>(
      X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &critical, nullptr)));
  if (!idp) {
    ossl::DrainErrors();
    if (critical == -1) return std::optional<IssuingDistributionPoint>();  // absent
    return Fail(ErrorCode::kInvalidArgument,
                critical == -2 ? "CRL has more than one issuingDistributionPoint"
                               : "CRL issuingDistributionPoint does not decode");
  }
  IssuingDistributionPoint out;
  out.critical = critical == 1;
  out.only_user_certs = idp->onlyuser > 0;
  out.other_fields = idp->onlyCA > 0 || idp->onlyattr > 0 || idp->indirectCRL > 0 ||
                     idp->onlysomereasons != nullptr ||
                     (idp->distpoint != nullptr && idp->distpoint->type != 0);
  if (idp->distpoint != nullptr && idp->distpoint->type == 0 &&
      sk_GENERAL_NAME_num(idp->distpoint->name.fullname) == 1) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(idp->distpoint->name.fullname, 0);
    if (name->type == GEN_URI) {
      const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
      out.url.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                     static_cast<size_t>(ASN1_STRING_length(uri)));
    }
  }
  return std::optional<IssuingDistributionPoint>(std::move(out));
}

Result<std::string> CrlDerToPem(std::span<const uint8_t> der) {
  ossl::X509Crl crl = CA_TRY(ossl::CrlFromDer(der));
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) {
    return ossl::CryptoFail("encode CRL PEM");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace ca::pki
