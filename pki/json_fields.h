// The one strict reader for JSON objects received or stored by the CA: every field has the
// expected type, required ones are present, and (on request) no unknown field is left over.
// Messages name the field by its path ("revoke.serial_hex: expected a string"); the error code is
// kInvalidArgument for input and kCorrupt for a stored record (the caller says which).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace ca::pki {

class JsonFields {
 public:
  // `path` names the object in messages ("issue", "config.token"); "" for a top-level object.
  // The object must outlive the reader.
  static Result<JsonFields> Of(const nlohmann::json& object, std::string path,
                               ErrorCode code = ErrorCode::kInvalidArgument);

  Result<std::string> String(std::string_view field);
  Result<std::optional<std::string>> OptionalString(std::string_view field);
  // A string that is not empty ("expected a non-empty string"), e.g. a path or a name in a config.
  Result<std::string> NonEmptyString(std::string_view field);
  Result<std::optional<std::string>> OptionalNonEmptyString(std::string_view field);
  Result<int64_t> Int(std::string_view field);
  Result<std::optional<int64_t>> OptionalInt(std::string_view field);
  // An integer in [min, max], e.g. a port or a bounded count ("expected an integer in [1, 65535]").
  Result<int64_t> IntIn(std::string_view field, int64_t min, int64_t max);
  Result<std::optional<int64_t>> OptionalIntIn(std::string_view field, int64_t min, int64_t max);
  Result<uint64_t> Uint(std::string_view field);  // a non-negative integer
  Result<std::optional<uint64_t>> OptionalUint(std::string_view field);
  Result<bool> Bool(std::string_view field);
  Result<std::optional<bool>> OptionalBool(std::string_view field);
  Result<std::vector<std::string>> StringList(std::string_view field);
  Result<std::optional<std::vector<std::string>>> OptionalStringList(std::string_view field);
  Result<const nlohmann::json*> Object(std::string_view field);
  Result<const nlohmann::json*> OptionalObject(std::string_view field);  // nullptr when absent
  // An array the caller reads item by item (e.g. a list of objects); nullptr when absent.
  Result<const nlohmann::json*> OptionalArray(std::string_view field);
  // Any JSON value (null included), for a field the caller interprets; "missing" when absent.
  Result<const nlohmann::json*> Value(std::string_view field);

  // Marks a field read without checking it (a value the caller reads itself).
  void MarkRead(std::string_view field);
  // Fails naming the first field present in the object that no call above has read.
  Status RefuseUnknown() const;
  // Fails, before any field is read, naming the first field not in `allowed` and listing the
  // allowed ones ("root.colour: unknown field (allowed here: key_label, subject)"), for a config
  // an operator edits by hand.
  Status AllowOnly(std::span<const std::string_view> allowed) const;
  Status AllowOnly(std::initializer_list<std::string_view> allowed) const;

  // "<path>.<field>: <what>" with the reader's error code, for checks the caller makes itself.
  std::unexpected<Error> Bad(std::string_view field, std::string_view what) const;
  std::string PathOf(std::string_view field) const;

 private:
  JsonFields(const nlohmann::json& object, std::string path, ErrorCode code)
      : object_(&object), path_(std::move(path)), code_(code) {}
  // The value of an optional read, or "missing".
  template <class T>
  Result<T> Required(std::string_view field, Result<std::optional<T>> value) const {
    if (!value) return std::unexpected(value.error());
    if (!*value) return Bad(field, "missing");
    return std::move(**value);
  }
  // The value of `field` if present (and marks it read).
  const nlohmann::json* Find(std::string_view field);

  const nlohmann::json* object_;
  std::string path_;
  ErrorCode code_;
  std::set<std::string, std::less<>> read_;
};

}  // namespace ca::pki
