#include "reports/mail/address.h"

#include <algorithm>

#include "common/encoding.h"

namespace ca::reports::mail {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 5322 atext (dot-atom local parts only).
bool IsAtext(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool IsDotAtom(std::string_view s, bool (*allowed)(char)) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (s[i + 1] == '.') return false;  // i + 1 < size: the last char is not '.'
    } else if (!allowed(s[i])) {
      return false;
    }
  }
  return true;
}

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

}  // namespace

bool IsAddress(std::string_view address) {
  if (address.size() > 254) return false;  // RFC 5321 path limit
  size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at > 64) return false;
  std::string_view local = address.substr(0, at), domain = address.substr(at + 1);
  return IsDotAtom(local, IsAtext) && IsDotAtom(domain, IsHostChar) && domain.size() <= 253;
}

std::optional<std::string> ExtractAddress(std::string_view contact) {
  std::string_view s = Trim(contact);
  size_t open = s.rfind('<');
  if (open != std::string_view::npos) {
    size_t close = s.find('>', open);
    if (close == std::string_view::npos || !Trim(s.substr(close + 1)).empty()) return std::nullopt;
    s = Trim(s.substr(open + 1, close - open - 1));
  }
  if (s.size() > 7 && AsciiLower(s.substr(0, 7)) == "mailto:") s.remove_prefix(7);
  if (!IsAddress(s)) return std::nullopt;
  return std::string(s);
}

std::vector<std::string> RecipientAddresses(const std::vector<std::string>& contacts) {
  std::vector<std::string> out, seen;
  for (const auto& c : contacts) {
    auto address = ExtractAddress(c);
    if (!address) continue;
    std::string key = AsciiLower(*address);
    if (std::ranges::find(seen, key) != seen.end()) continue;
    seen.push_back(std::move(key));
    out.push_back(std::move(*address));
  }
  return out;
}

}  // namespace ca::reports::mail
