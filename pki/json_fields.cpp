#include "pki/json_fields.h"

#include <algorithm>

namespace ca::pki {

using nlohmann::json;

namespace {

// Reads one optional field with a type check, then converts it.
template <class T, class Check>
Result<std::optional<T>> ReadOptional(JsonFields& fields, const json* value, std::string_view field,
                                      Check check, std::string_view expected) {
  if (value == nullptr) return std::optional<T>();
  if (!check(*value)) return fields.Bad(field, "expected " + std::string(expected));
  return std::optional<T>(value->get<T>());
}

bool IsUint(const json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
}

}  // namespace

Result<JsonFields> JsonFields::Of(const json& object, std::string path, ErrorCode code) {
  if (!object.is_object()) {
    return Fail(code, (path.empty() ? std::string("message") : path) + ": expected a JSON object");
  }
  return JsonFields(object, std::move(path), code);
}

std::string JsonFields::PathOf(std::string_view field) const {
  return path_.empty() ? std::string(field) : path_ + "." + std::string(field);
}

std::unexpected<Error> JsonFields::Bad(std::string_view field, std::string_view what) const {
  return Fail(code_, PathOf(field) + ": " + std::string(what));
}

const json* JsonFields::Find(std::string_view field) {
  read_.insert(std::string(field));
  auto it = object_->find(field);
  return it == object_->end() ? nullptr : &*it;
}

void JsonFields::MarkRead(std::string_view field) {
  read_.insert(std::string(field));
}

Status JsonFields::RefuseUnknown() const {
  for (const auto& [key, value] : object_->items()) {
    if (!read_.contains(key)) {
      return Fail(code_, (path_.empty() ? std::string("message") : path_) + ": unknown field '" +
                             key + "'");
    }
  }
  return Ok();
}

Status JsonFields::AllowOnly(std::span<const std::string_view> allowed) const {
  for (const auto& [key, value] : object_->items()) {
    if (std::ranges::find(allowed, key) != allowed.end()) continue;
    std::string list;
    for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    return Bad(key, "unknown field (allowed here: " + list + ")");
  }
  return Ok();
}

Status JsonFields::AllowOnly(std::initializer_list<std::string_view> allowed) const {
  return AllowOnly(std::span<const std::string_view>(allowed.begin(), allowed.size()));
}

Result<std::optional<std::string>> JsonFields::OptionalString(std::string_view field) {
  return ReadOptional<std::string>(
      *this, Find(field), field, [](const json& v) { return v.is_string(); }, "a string");
}

Result<std::optional<std::string>> JsonFields::OptionalNonEmptyString(std::string_view field) {
  return ReadOptional<std::string>(
      *this, Find(field), field,
      [](const json& v) { return v.is_string() && !v.get_ref<const std::string&>().empty(); },
      "a non-empty string");
}

Result<std::optional<int64_t>> JsonFields::OptionalInt(std::string_view field) {
  return ReadOptional<int64_t>(
      *this, Find(field), field, [](const json& v) { return v.is_number_integer(); }, "an integer");
}

Result<std::optional<int64_t>> JsonFields::OptionalIntIn(std::string_view field, int64_t min,
                                                         int64_t max) {
  auto in_range = [min, max](const json& v) {
    // Unsigned values above INT64_MAX are above any max.
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      return false;
    return v.is_number_integer() && v.get<int64_t>() >= min && v.get<int64_t>() <= max;
  };
  return ReadOptional<int64_t>(
      *this, Find(field), field, in_range,
      "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
}

Result<std::optional<uint64_t>> JsonFields::OptionalUint(std::string_view field) {
  return ReadOptional<uint64_t>(*this, Find(field), field, IsUint, "a non-negative integer");
}

Result<std::optional<bool>> JsonFields::OptionalBool(std::string_view field) {
  return ReadOptional<bool>(
      *this, Find(field), field, [](const json& v) { return v.is_boolean(); }, "a boolean");
}

Result<std::optional<std::vector<std::string>>> JsonFields::OptionalStringList(
    std::string_view field) {
  const json* value = Find(field);
  if (value == nullptr) return std::optional<std::vector<std::string>>();
  if (!value->is_array()) return Bad(field, "expected an array of strings");
  std::vector<std::string> out;
  for (const auto& item : *value) {
    if (!item.is_string()) return Bad(field, "expected an array of strings");
    out.push_back(item.get<std::string>());
  }
  return std::optional(std::move(out));
}

Result<const json*> JsonFields::OptionalObject(std::string_view field) {
  const json* value = Find(field);
  if (value != nullptr && !value->is_object()) return Bad(field, "expected an object");
  return value;
}

Result<const json*> JsonFields::OptionalArray(std::string_view field) {
  const json* value = Find(field);
  if (value != nullptr && !value->is_array()) return Bad(field, "expected an array");
  return value;
}

Result<std::string> JsonFields::String(std::string_view field) {
  return Required(field, OptionalString(field));
}
Result<std::string> JsonFields::NonEmptyString(std::string_view field) {
  return Required(field, OptionalNonEmptyString(field));
}
Result<int64_t> JsonFields::Int(std::string_view field) {
  return Required(field, OptionalInt(field));
}
Result<int64_t> JsonFields::IntIn(std::string_view field, int64_t min, int64_t max) {
  return Required(field, OptionalIntIn(field, min, max));
}
Result<uint64_t> JsonFields::Uint(std::string_view field) {
  return Required(field, OptionalUint(field));
}
Result<bool> JsonFields::Bool(std::string_view field) {
  return Required(field, OptionalBool(field));
}
Result<std::vector<std::string>> JsonFields::StringList(std::string_view field) {
  return Required(field, OptionalStringList(field));
}

Result<const json*> JsonFields::Object(std::string_view field) {
  const json* value = CA_TRY(OptionalObject(field));
  if (value == nullptr) return Bad(field, "missing");
  return value;
}

Result<const json*> JsonFields::Value(std::string_view field) {
  const json* value = Find(field);
  if (value == nullptr) return Bad(field, "missing");
  return value;
}

}  // namespace ca::pki
