#include "gateway/record_text.h"

#include <charconv>
#include <string_view>
#include <vector>

namespace ca::gateway {

namespace {

// One JSON object's text, members appended in the caller's (sorted) order. `plain` turns false at
// the first string byte outside ASCII: the caller then encodes through nlohmann instead.
class ObjectText {
 public:
  explicit ObjectText(size_t reserve) {
    out_.reserve(reserve);
    out_ += '{';
  }
  ObjectText& Str(std::string_view key, std::string_view value) {
    Key(key);
    Quoted(value);
    return *this;
  }
  ObjectText& Int(std::string_view key, int64_t value) {
    Key(key);
    char buf[24];
    auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
    out_.append(buf, end);
    return *this;
  }
  ObjectText& Bool(std::string_view key, bool value) {
    Key(key);
    out_ += value ? "true" : "false";
    return *this;
  }
  ObjectText& Strs(std::string_view key, const std::vector<std::string>& values) {
    Key(key);
    out_ += '[';
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) out_ += ',';
      Quoted(values[i]);
    }
    out_ += ']';
    return *this;
  }
  // A problem document (or null): small and rare, dumped by nlohmann.
  ObjectText& Json(std::string_view key, const nlohmann::json& value) {
    Key(key);
    out_ += value.dump();
    return *this;
  }
  bool plain() const { return plain_; }
  std::string Take() {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void Key(std::string_view key) {
    if (out_.size() > 1) out_ += ',';
    Quoted(key);
    out_ += ':';
  }
  // nlohmann's escaping for ASCII: '"', '\\', the named control characters, \u00xx for the others.
  void Quoted(std::string_view s) {
    out_ += '"';
    size_t run = 0;  // start of the bytes not yet copied
    for (size_t i = 0; i < s.size(); ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) continue;
      out_.append(s.data() + run, i - run);
      run = i + 1;
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\b':
          out_ += "\\b";
          break;
        case '\f':
          out_ += "\\f";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        default:
          if (c >= 0x80) {
            plain_ = false;
            out_ += static_cast<char>(c);
          } else {
            static constexpr char kHex[] = "0123456789abcdef";
            out_ += "\\u00";
            out_ += kHex[c >> 4];
            out_ += kHex[c & 0xf];
          }
      }
    }
    out_.append(s.data() + run, s.size() - run);
    out_ += '"';
  }
  std::string out_;
  bool plain_ = true;
};

template <class R>
std::string Finish(ObjectText& text, const R& r) {
  if (!text.plain()) return ToJson(r).dump();
  return text.Take();
}

}  // namespace

std::string RecordText(const AccountRecord& r) {
  ObjectText t(256);
  t.Strs("contact", r.contact)
      .Int("created_at", r.created_at)
      .Str("external_account_kid", r.external_account_kid)
      .Str("id", r.id)
      .Str("jwk_thumbprint", r.jwk_thumbprint)
      .Str("profile", r.profile)
      .Str("status", StatusName(r.status));
  return Finish(t, r);
}

std::string RecordText(const OrderRecord& r) {
  ObjectText t(512 + r.finalize_csr.size());
  t.Str("account_id", r.account_id)
      .Strs("authz_ids", r.authz_ids)
      .Int("created_at", r.created_at)
      .Json("error", r.error)
      .Int("expires", r.expires)
      .Str("external_account_kid", r.external_account_kid)
      .Str("finalize_csr", r.finalize_csr)
      .Str("id", r.id)
      .Strs("names", r.names)
      .Int("policy_version", static_cast<int64_t>(r.policy_version))
      .Str("profile", r.profile)
      .Str("request_id", r.request_id)
      .Str("serial_hex", r.serial_hex)
      .Str("status", StatusName(r.status));
  return Finish(t, r);
}

std::string RecordText(const AuthzRecord& r) {
  ObjectText t(384);
  t.Str("account_id", r.account_id)
      .Int("caa_checked_at", r.caa_checked_at)
      .Strs("challenge_ids", r.challenge_ids)
      .Int("expires", r.expires)
      .Str("id", r.id)
      .Str("name", r.name)
      .Str("order_id", r.order_id)
      .Str("status", StatusName(r.status))
      .Int("validated_at", r.validated_at)
      .Bool("wildcard", r.wildcard);
  return Finish(t, r);
}

std::string RecordText(const ChallengeRecord& r) {
  ObjectText t(320);
  t.Str("account_id", r.account_id)
      .Int("attempts", r.attempts)
      .Str("authz_id", r.authz_id)
      .Json("error", r.error)
      .Str("id", r.id)
      .Str("status", StatusName(r.status))
      .Str("token", r.token)
      .Str("type", r.type)
      .Int("validated_at", r.validated_at);
  return Finish(t, r);
}

std::string RecordText(const CertRecord& r) {
  ObjectText t(256 + r.chain_pem.size() + r.chain_pem.size() / 32);
  t.Str("account_id", r.account_id)
      .Str("chain_pem", r.chain_pem)
      .Str("external_account_kid", r.external_account_kid)
      .Int("not_after", r.not_after)
      .Int("not_before", r.not_before)
      .Str("order_id", r.order_id)
      .Str("serial_hex", r.serial_hex);
  return Finish(t, r);
}

}  // namespace ca::gateway
