#include "common/openssl.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ca::ossl {

std::string DrainErrors() {
  std::string out;
  unsigned long code = 0;
  const char* file = nullptr;
  int line = 0;
  while ((code = ERR_get_error_all(&file, &line, nullptr, nullptr, nullptr)) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error recorded" : out;
}

std::unexpected<Error> CryptoFail(std::string_view what) {
  return Fail(ErrorCode::kCrypto, std::string(what) + ": " + DrainErrors());
}

namespace {

template <class T>
Result<Bytes> ToDer(const T* obj, int (*i2d)(const T*, unsigned char**), std::string_view what) {
  if (obj == nullptr) return Fail(ErrorCode::kInvalidArgument, std::string(what) + ": null");
  int len = i2d(obj, nullptr);
  if (len <= 0) return CryptoFail(what);
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  if (i2d(obj, &p) != len) return CryptoFail(what);
  return out;
}

Bio MemBio(std::string_view data) {
  return Bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

Result<Bytes> CertToDer(const X509* cert) { return ToDer(cert, i2d_X509, "encode certificate"); }

Result<X509Ptr> CertFromDer(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != der.data() + der.size()) return CryptoFail("parse certificate DER");
  return cert;
}

Result<std::string> CertToPem(const X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return CryptoFail("encode certificate PEM");
  return BioToString(bio.get());
}

Result<std::string> CertDerToPem(std::span<const uint8_t> der) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio(bio.get(), PEM_STRING_X509, "", der.data(), static_cast<long>(der.size())) <= 0) {
    return CryptoFail("encode certificate PEM");
  }
  return BioToString(bio.get());
}

Result<X509Ptr> CertFromPem(std::string_view pem) {
  Bio bio = MemBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return CryptoFail("parse certificate PEM");
  return cert;
}

Result<std::vector<X509Ptr>> CertsFromPem(std::string_view pem) {
  Bio bio = MemBio(pem);
  std::vector<X509Ptr> out;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    out.push_back(std::move(cert));
  }
  ERR_clear_error();  // the loop ends on a "no start line" error by design
  if (out.empty()) return Fail(ErrorCode::kInvalidArgument, "no certificate in PEM input");
  return out;
}

Result<X509Req> CsrFromDer(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  X509Req req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req || p != der.data() + der.size()) return CryptoFail("parse CSR DER");
  return req;
}

Result<X509Req> CsrFromPem(std::string_view pem) {
  Bio bio = MemBio(pem);
  X509Req req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return CryptoFail("parse CSR PEM");
  return req;
}

Result<Bytes> CsrToDer(const X509_REQ* req) { return ToDer(req, i2d_X509_REQ, "encode CSR"); }

Result<Bytes> PublicKeyToDer(const EVP_PKEY* key) {
  return ToDer(key, i2d_PUBKEY, "encode public key");
}

Result<Pkey> PublicKeyFromDer(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key || p != der.data() + der.size()) return CryptoFail("parse public key DER");
  return key;
}

Result<std::string> PublicKeyToPem(const EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) return CryptoFail("encode public key PEM");
  return BioToString(bio.get());
}

Result<Pkey> PublicKeyFromPem(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return CryptoFail("parse public key PEM");
  return key;
}

Result<Bytes> CrlToDer(const X509_CRL* crl) { return ToDer(crl, i2d_X509_CRL, "encode CRL"); }

Result<X509Crl> CrlFromDer(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  X509Crl crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!crl || p != der.data() + der.size()) return CryptoFail("parse CRL DER");
  return crl;
}

Result<Bytes> PublicKeyFingerprint(const EVP_PKEY* key) {
  auto der = PublicKeyToDer(key);
  if (!der) return std::unexpected(der.error());
  Bytes digest(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (EVP_Digest(der->data(), der->size(), digest.data(), &len, EVP_sha256(), nullptr) != 1) {
    return CryptoFail("hash public key");
  }
  digest.resize(len);
  return digest;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kNotFound, "cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Fail(ErrorCode::kIo, "cannot read " + path);
  return ss.str();
}

Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode,
                       bool overwrite) {
  if (!overwrite && ::access(path.c_str(), F_OK) == 0) {
    return Fail(ErrorCode::kAlreadyExists, "refusing to overwrite existing " + path);
  }
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Fail(ErrorCode::kIo, "cannot create " + tmp + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Fail(ErrorCode::kIo, "cannot write " + tmp + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Fail(ErrorCode::kIo, "cannot sync " + tmp + ": " + std::strerror(e));
  }
  ::close(fd);
  // link() fails if the target appeared meanwhile, so "no overwrite" holds even under a race.
  if (!overwrite) {
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      return Fail(e == EEXIST ? ErrorCode::kAlreadyExists : ErrorCode::kIo,
                  "cannot create " + path + ": " + std::strerror(e));
    }
    ::unlink(tmp.c_str());
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Fail(ErrorCode::kIo, "cannot rename to " + path + ": " + std::strerror(e));
  }
  return Ok();
}

}  // namespace ca::ossl
