#include "netstructer/proto/value_compare.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>

#include "absl/container/node_hash_map.h"

namespace netstructer {
namespace {

template <typename T>
int ThreeWay(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

// Position of a kind in the cross-kind order; numbers share one rank.
int Rank(const Value& v) {
  switch (v.kind_case()) {
    case Value::KIND_NOT_SET:
      return 0;
    case Value::kNullValue:
      return 1;
    case Value::kBoolValue:
    case Value::kIntValue:
    case Value::kFloatValue:
      return 2;
    case Value::kStrValue:
      return 3;
    case Value::kBytesValue:
      return 4;
    case Value::kTupleValue:
      return 5;
    case Value::kListValue:
      return 6;
    case Value::kSetValue:
      return 7;
    case Value::kMapValue:
      return 8;
  }
  return 0;
}

int64_t AsInt(const Value& v) {
  return v.kind_case() == Value::kBoolValue ? (v.bool_value() ? 1 : 0)
                                            : v.int_value();
}

uint64_t Bits(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof(bits));
  return bits;
}

int CompareDoubles(double x, double y) {
  const bool x_nan = std::isnan(x);
  const bool y_nan = std::isnan(y);
  if (x_nan || y_nan) {
    if (x_nan && y_nan) return ThreeWay(Bits(x), Bits(y));
    return x_nan ? 1 : -1;
  }
  return x < y ? -1 : (x > y ? 1 : 0);
}

// Exact comparison of an int64 with a double, like Python's int/float
// comparison. NaN sorts after every number.
int CompareIntDouble(int64_t i, double d) {
  if (std::isnan(d)) return -1;
  // 2**63 is exactly representable; every int64 is below it.
  constexpr double kTwo63 = 9223372036854775808.0;
  if (d >= kTwo63) return -1;
  if (d < -kTwo63) return 1;
  const double whole = std::trunc(d);
  const int64_t whole_int = static_cast<int64_t>(whole);  // In range here.
  if (i != whole_int) return i < whole_int ? -1 : 1;
  const double fraction = d - whole;
  return fraction > 0 ? -1 : (fraction < 0 ? 1 : 0);
}

int CompareNumbers(const Value& a, const Value& b) {
  const bool a_float = a.kind_case() == Value::kFloatValue;
  const bool b_float = b.kind_case() == Value::kFloatValue;
  if (a_float && b_float)
    return CompareDoubles(a.float_value(), b.float_value());
  if (a_float) return -CompareIntDouble(AsInt(b), a.float_value());
  if (b_float) return CompareIntDouble(AsInt(a), b.float_value());
  return ThreeWay(AsInt(a), AsInt(b));
}

bool IsNan(const Value& v) {
  return v.kind_case() == Value::kFloatValue && std::isnan(v.float_value());
}

using EntryView = std::pair<const Value*, const Value*>;  // (key, value)

// Uniform access to the element sequences CompareSequences walks.
size_t Size(const ValueList& list) { return list.values_size(); }
const Value& At(const ValueList& list, size_t i) { return list.values(i); }
size_t Size(const std::vector<const Value*>& view) { return view.size(); }
const Value& At(const std::vector<const Value*>& view, size_t i) {
  return *view[i];
}

// One comparison (or one canonicalization step). Memoizes the sorted,
// deduplicated view of each set and map it meets, so that comparing values
// that nest sets inside sets stays polynomial. Views are keyed by address:
// the compared values must not change while a Comparer is alive.
class Comparer {
 public:
  int Compare(const Value& a, const Value& b);
  bool Equal(const Value& a, const Value& b);
  std::vector<int> SetMembers(const ValueList& set);
  std::vector<std::pair<int, int>> MapEntries(const ValueMap& map);

 private:
  template <typename Seq>
  int CompareSequences(const Seq& a, const Seq& b);
  const std::vector<const Value*>& SetView(const ValueList& set);
  const std::vector<EntryView>& MapView(const ValueMap& map);

  // node_hash_map: views are referenced while others are inserted.
  absl::node_hash_map<const ValueList*, std::vector<const Value*>> set_views_;
  absl::node_hash_map<const ValueMap*, std::vector<EntryView>> map_views_;
};

template <typename Seq>
int Comparer::CompareSequences(const Seq& a, const Seq& b) {
  const size_t n = std::min(Size(a), Size(b));
  for (size_t i = 0; i < n; ++i) {
    const int c = Compare(At(a, i), At(b, i));
    if (c != 0) return c;
  }
  return ThreeWay(Size(a), Size(b));
}

int Comparer::Compare(const Value& a, const Value& b) {
  const int rank_a = Rank(a);
  const int rank_b = Rank(b);
  if (rank_a != rank_b) return ThreeWay(rank_a, rank_b);
  switch (a.kind_case()) {
    case Value::KIND_NOT_SET:
    case Value::kNullValue:
      return 0;
    case Value::kBoolValue:
    case Value::kIntValue:
    case Value::kFloatValue:
      return CompareNumbers(a, b);
    case Value::kStrValue:
      return ThreeWay(a.str_value(), b.str_value());
    case Value::kBytesValue:
      return ThreeWay(a.bytes_value(), b.bytes_value());
    case Value::kTupleValue:
      return CompareSequences(a.tuple_value(), b.tuple_value());
    case Value::kListValue:
      return CompareSequences(a.list_value(), b.list_value());
    case Value::kSetValue:
      return CompareSequences(SetView(a.set_value()), SetView(b.set_value()));
    case Value::kMapValue: {
      const std::vector<EntryView>& x = MapView(a.map_value());
      const std::vector<EntryView>& y = MapView(b.map_value());
      const size_t n = std::min(x.size(), y.size());
      for (size_t i = 0; i < n; ++i) {
        int c = Compare(*x[i].first, *y[i].first);
        if (c == 0) c = Compare(*x[i].second, *y[i].second);
        if (c != 0) return c;
      }
      return ThreeWay(x.size(), y.size());
    }
  }
  return 0;
}

bool Comparer::Equal(const Value& a, const Value& b) {
  if (Rank(a) != Rank(b)) return false;
  switch (a.kind_case()) {
    case Value::KIND_NOT_SET:
    case Value::kNullValue:
      return true;
    case Value::kBoolValue:
    case Value::kIntValue:
    case Value::kFloatValue:
      return !IsNan(a) && !IsNan(b) && CompareNumbers(a, b) == 0;
    case Value::kStrValue:
      return a.str_value() == b.str_value();
    case Value::kBytesValue:
      return a.bytes_value() == b.bytes_value();
    case Value::kTupleValue:
    case Value::kListValue: {
      const ValueList& x = a.kind_case() == Value::kTupleValue ? a.tuple_value()
                                                               : a.list_value();
      const ValueList& y = b.kind_case() == Value::kTupleValue ? b.tuple_value()
                                                               : b.list_value();
      if (x.values_size() != y.values_size()) return false;
      for (int i = 0; i < x.values_size(); ++i) {
        if (!Equal(x.values(i), y.values(i))) return false;
      }
      return true;
    }
    case Value::kSetValue: {
      // Equal members sort to the same positions of the deduplicated views.
      const std::vector<const Value*>& x = SetView(a.set_value());
      const std::vector<const Value*>& y = SetView(b.set_value());
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!Equal(*x[i], *y[i])) return false;
      }
      return true;
    }
    case Value::kMapValue: {
      const std::vector<EntryView>& x = MapView(a.map_value());
      const std::vector<EntryView>& y = MapView(b.map_value());
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!Equal(*x[i].first, *y[i].first) ||
            !Equal(*x[i].second, *y[i].second)) {
          return false;
        }
      }
      return true;
    }
  }
  return false;
}

// Groups `count` items, ordered by `compare_items` (stable), into classes of
// equal items (Equal on `item(i)`); calls `emit(first, last)` for each class
// with its first and last index in input order. Emits in sorted order.
template <typename ItemFn, typename EmitFn>
void ForEachClass(Comparer& comparer, int count, ItemFn item, EmitFn emit) {
  std::vector<int> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
    return comparer.Compare(item(x), item(y)) < 0;
  });
  // Within a run that compares 0, items are Equal except those holding NaNs,
  // which stay apart as in Python (each NaN object is its own set member).
  struct Class {
    int first;
    int last;
  };
  std::vector<Class> run;
  auto flush = [&] {
    for (const Class& c : run) emit(c.first, c.last);
    run.clear();
  };
  for (int index : order) {
    if (!run.empty() &&
        comparer.Compare(item(run.front().first), item(index)) != 0) {
      flush();
    }
    bool joined = false;
    // An item holding a NaN equals nothing; skipping the scan keeps a run
    // of identical NaNs linear instead of quadratic.
    const bool can_join = comparer.Equal(item(index), item(index));
    for (Class& c : run) {
      if (!can_join) break;
      if (comparer.Equal(item(c.first), item(index))) {
        c.last = index;  // Stable sort: indices grow within a run.
        joined = true;
        break;
      }
    }
    if (!joined) run.push_back({index, index});
  }
  flush();
}

std::vector<int> Comparer::SetMembers(const ValueList& set) {
  std::vector<int> kept;
  ForEachClass(
      *this, set.values_size(),
      [&](int i) -> const Value& { return set.values(i); },
      [&](int first, int /*last*/) { kept.push_back(first); });
  return kept;
}

std::vector<std::pair<int, int>> Comparer::MapEntries(const ValueMap& map) {
  std::vector<std::pair<int, int>> kept;
  ForEachClass(
      *this, map.entries_size(),
      [&](int i) -> const Value& { return map.entries(i).key(); },
      [&](int first, int last) { kept.emplace_back(first, last); });
  return kept;  // Sorted by key.
}

const std::vector<const Value*>& Comparer::SetView(const ValueList& set) {
  auto it = set_views_.find(&set);
  if (it != set_views_.end()) return it->second;
  std::vector<const Value*> view;
  for (int i : SetMembers(set)) view.push_back(&set.values(i));
  return set_views_.emplace(&set, std::move(view)).first->second;
}

const std::vector<EntryView>& Comparer::MapView(const ValueMap& map) {
  auto it = map_views_.find(&map);
  if (it != map_views_.end()) return it->second;
  std::vector<EntryView> view;
  for (const auto& [key_index, value_index] : MapEntries(map)) {
    view.emplace_back(&map.entries(key_index).key(),
                      &map.entries(value_index).value());
  }
  return map_views_.emplace(&map, std::move(view)).first->second;
}

}  // namespace

bool ValuesEqual(const Value& a, const Value& b) {
  Comparer comparer;
  return comparer.Equal(a, b);
}

int CompareValues(const Value& a, const Value& b) {
  Comparer comparer;
  return comparer.Compare(a, b);
}

std::vector<int> CanonicalSetMembers(const ValueList& set) {
  Comparer comparer;
  return comparer.SetMembers(set);
}

std::vector<std::pair<int, int>> CanonicalMapEntries(const ValueMap& map) {
  Comparer comparer;
  std::vector<std::pair<int, int>> entries = comparer.MapEntries(map);
  std::sort(entries.begin(), entries.end());  // Back to insertion order.
  return entries;
}

}  // namespace netstructer
