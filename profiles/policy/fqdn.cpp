#include "profiles/policy/fqdn.h"

#include <cstdint>
#include <limits>
#include <vector>

namespace ca::profiles::policy {

namespace {

constexpr uint32_t kBase = 36, kTmin = 1, kTmax = 26, kSkew = 38, kDamp = 700;
constexpr uint32_t kInitialBias = 72, kInitialN = 128;
constexpr uint32_t kMaxInt = std::numeric_limits<uint32_t>::max();

uint32_t Adapt(uint32_t delta, uint32_t num_points, bool first_time) {
  delta = first_time ? delta / kDamp : delta / 2;
  delta += delta / num_points;
  uint32_t k = 0;
  while (delta > ((kBase - kTmin) * kTmax) / 2) {
    delta /= kBase - kTmin;
    k += kBase;
  }
  return k + (kBase - kTmin + 1) * delta / (delta + kSkew);
}

int DigitValue(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '0' && c <= '9') return c - '0' + 26;
  return -1;
}

bool IsLdh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

std::unexpected<Error> Bad(std::string_view name, std::string_view why) {
  return Fail(ErrorCode::kInvalidArgument,
              "invalid domain name '" + std::string(name) + "': " + std::string(why));
}

// Checks one "xn--" label: valid Punycode whose decoding is a plausible U-label (at least one
// non-ASCII code point, no surrogates or out-of-range values, ASCII part LDH).
Status CheckALabel(std::string_view label) {
  auto decoded = PunycodeDecode(label.substr(4));
  if (!decoded) return std::unexpected(decoded.error());
  bool non_ascii = false;
  for (char32_t cp : *decoded) {
    if (cp >= 0xD800 && cp <= 0xDFFF)
      return Fail(ErrorCode::kInvalidArgument, "surrogate code point");
    if (cp > 0x10FFFF) return Fail(ErrorCode::kInvalidArgument, "code point out of range");
    if (cp < 0x80) {
      if (!IsLdh(static_cast<char>(cp))) {
        return Fail(ErrorCode::kInvalidArgument, "decodes to a non-LDH ASCII character");
      }
    } else {
      non_ascii = true;
      if (cp < 0xA0) return Fail(ErrorCode::kInvalidArgument, "decodes to a control character");
    }
  }
  if (!non_ascii) return Fail(ErrorCode::kInvalidArgument, "decodes to a pure ASCII label");
  return Ok();
}

}  // namespace

Result<std::u32string> PunycodeDecode(std::string_view input) {
  auto bad = [](std::string_view why) {
    return Fail(ErrorCode::kInvalidArgument, "bad Punycode: " + std::string(why));
  };
  if (input.empty()) return bad("empty");
  std::u32string output;
  size_t b = input.rfind('-');
  size_t in = 0;
  if (b != std::string_view::npos) {
    for (size_t j = 0; j < b; ++j) {
      if (static_cast<unsigned char>(input[j]) >= 0x80) return bad("non-basic code point");
      output.push_back(static_cast<char32_t>(input[j]));
    }
    in = b + 1;
  }
  uint32_t n = kInitialN, i = 0, bias = kInitialBias;
  while (in < input.size()) {
    uint32_t old_i = i, w = 1;
    for (uint32_t k = kBase;; k += kBase) {
      if (in >= input.size()) return bad("truncated");
      int digit = DigitValue(input[in++]);
      if (digit < 0) return bad("invalid digit");
      uint32_t d = static_cast<uint32_t>(digit);
      if (d > (kMaxInt - i) / w) return bad("overflow");
      i += d * w;
      uint32_t t = k <= bias ? kTmin : (k >= bias + kTmax ? kTmax : k - bias);
      if (d < t) break;
      if (w > kMaxInt / (kBase - t)) return bad("overflow");
      w *= kBase - t;
    }
    uint32_t count = static_cast<uint32_t>(output.size()) + 1;
    bias = Adapt(i - old_i, count, old_i == 0);
    if (i / count > kMaxInt - n) return bad("overflow");
    n += i / count;
    i %= count;
    if (n < 0x80) return bad("basic code point encoded as delta");
    output.insert(output.begin() + i, static_cast<char32_t>(n));
    ++i;
  }
  return output;
}

Result<std::string> NormalizeFqdn(std::string_view name, bool allow_wildcard) {
  std::string s;
  s.reserve(name.size());
  for (char c : name) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return Bad(name, "non-ASCII characters (U-label); use the A-label form (xn--...)");
    }
    s.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (s.ends_with('.')) s.pop_back();
  if (s.empty()) return Bad(name, "empty");
  std::string_view rest = s;
  if (rest.starts_with("*.")) {
    if (!allow_wildcard) return Bad(name, "wildcard not allowed here");
    rest.remove_prefix(2);
  }
  if (s.size() > 253) return Bad(name, "longer than 253 characters");
  std::vector<std::string_view> labels;
  size_t start = 0;
  while (true) {
    size_t dot = rest.find('.', start);
    labels.push_back(rest.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (labels.size() < 2) return Bad(name, "needs at least two labels");
  for (std::string_view label : labels) {
    if (label.empty()) return Bad(name, "empty label");
    if (label.size() > 63) return Bad(name, "label longer than 63 characters");
    for (char c : label) {
      if (c == '*') return Bad(name, "'*' is only allowed as the whole first label");
      if (!IsLdh(c))
        return Bad(name, "character '" + std::string(1, c) + "' is not a letter, digit or hyphen");
    }
    if (label.front() == '-' || label.back() == '-') {
      return Bad(name, "label '" + std::string(label) + "' starts or ends with a hyphen");
    }
    if (label.size() >= 4 && label[2] == '-' && label[3] == '-') {
      if (!label.starts_with("xn--")) {
        return Bad(name, "label '" + std::string(label) +
                             "' uses the reserved form (hyphens in positions 3 and 4)");
      }
      auto ok = CheckALabel(label);
      if (!ok) {
        return Bad(name, "A-label '" + std::string(label) + "' is not valid IDNA (" +
                             ok.error().message + ")");
      }
    }
  }
  bool numeric_tld = true;
  for (char c : labels.back()) numeric_tld = numeric_tld && c >= '0' && c <= '9';
  if (numeric_tld)
    return Bad(name, "top-level label is numeric (an IP address is not a domain name)");
  return s;
}

}  // namespace ca::profiles::policy
