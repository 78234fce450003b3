#include "netstructer/proto/value_validate.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "netstructer/proto/unicode.h"

namespace netstructer {
namespace {

absl::string_view KindName(const Value& v) {
  switch (v.kind_case()) {
    case Value::kListValue:
      return "list";
    case Value::kSetValue:
      return "set";
    case Value::kMapValue:
      return "dict";
    case Value::kTupleValue:
      return "tuple";
    default:
      return "value";
  }
}

}  // namespace

absl::string_view UnhashableType(const Value& v) {
  switch (v.kind_case()) {
    case Value::kListValue:
    case Value::kSetValue:
    case Value::kMapValue:
      return KindName(v);
    case Value::kTupleValue:
      for (const Value& element : v.tuple_value().values()) {
        absl::string_view kind = UnhashableType(element);
        if (!kind.empty()) return kind;
      }
      return "";
    case Value::KIND_NOT_SET:
      return "unset";
    default:
      return "";
  }
}

namespace {

class Validator {
 public:
  explicit Validator(const ValueLimits& limits) : limits_(limits) {}

  absl::Status Check(const Value& v, int depth) {
    if (depth > limits_.max_depth) {
      return Error(
          absl::StrCat("nesting deeper than the limit of ", limits_.max_depth));
    }
    switch (v.kind_case()) {
      case Value::KIND_NOT_SET:
        return Error("no kind set");
      case Value::kNullValue:
        if (v.null_value() != NULL_VALUE) {
          return Error(absl::StrCat("null_value must be NULL_VALUE (0), not ",
                                    static_cast<int>(v.null_value())));
        }
        return absl::OkStatus();
      case Value::kStrValue: {
        const size_t bad = unicode::FindInvalidUtf8(v.str_value());
        if (bad != absl::string_view::npos) {
          return Error(absl::StrCat("str is not valid UTF-8 at byte ", bad));
        }
        return absl::OkStatus();
      }
      case Value::kBoolValue:
      case Value::kIntValue:
      case Value::kFloatValue:
      case Value::kBytesValue:
        return absl::OkStatus();
      case Value::kListValue:
        return CheckElements(v.list_value(), depth, /*hashable=*/false);
      case Value::kTupleValue:
        return CheckElements(v.tuple_value(), depth, /*hashable=*/false);
      case Value::kSetValue:
        return CheckElements(v.set_value(), depth, /*hashable=*/true);
      case Value::kMapValue:
        return CheckMap(v.map_value(), depth);
    }
    return Error("unknown kind");
  }

 private:
  absl::Status CheckElements(const ValueList& list, int depth, bool hashable) {
    for (int i = 0; i < list.values_size(); ++i) {
      path_.push_back({i, ""});
      absl::Status status = CheckMember(list.values(i), depth + 1, hashable);
      if (!status.ok()) return status;
      path_.pop_back();
    }
    return absl::OkStatus();
  }

  absl::Status CheckMap(const ValueMap& map, int depth) {
    for (int i = 0; i < map.entries_size(); ++i) {
      const MapEntry& entry = map.entries(i);
      path_.push_back({i, ".key"});
      if (!entry.has_key()) return Error("map entry has no key");
      absl::Status status = CheckMember(entry.key(), depth + 1, true);
      if (!status.ok()) return status;
      path_.back().suffix = ".value";
      if (!entry.has_value()) return Error("map entry has no value");
      status = Check(entry.value(), depth + 1);
      if (!status.ok()) return status;
      path_.pop_back();
    }
    return absl::OkStatus();
  }

  // Checks `v` itself first, so that a too deep or unset member reports
  // that rather than being unhashable.
  absl::Status CheckMember(const Value& v, int depth, bool hashable) {
    absl::Status status = Check(v, depth);
    if (!status.ok() || !hashable) return status;
    absl::string_view kind = UnhashableType(v);
    if (!kind.empty()) {
      return Error(absl::StrCat("unhashable type: '", kind, "'"));
    }
    return absl::OkStatus();
  }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(
        "at $",
        absl::StrJoin(path_, "",
                      [](std::string* out, const PathStep& step) {
                        absl::StrAppend(out, "[", step.index, "]", step.suffix);
                      }),
        ": ", what));
  }

  // One step of the path from the root to the value being checked.
  struct PathStep {
    int index;           // Element or map entry index.
    const char* suffix;  // "", ".key" or ".value".
  };

  const ValueLimits& limits_;
  std::vector<PathStep> path_;
};

}  // namespace

absl::Status Validate(const Value& value, const ValueLimits& limits) {
  return Validator(limits).Check(value, 1);
}

bool IsHashable(const Value& value) { return UnhashableType(value).empty(); }

}  // namespace netstructer
