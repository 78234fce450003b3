// Repr: a Value printed the way CPython 3.11's repr() prints the equivalent
// Python object. ParseLiteral (proto/python_literal.h) reads it back.
#ifndef NETSTRUCTER_PROTO_PYTHON_REPR_H_
#define NETSTRUCTER_PROTO_PYTHON_REPR_H_

#include <string>

#include "proto/value.pb.h"

namespace netstructer {

// What CPython prints for the same value, byte for byte:
//   * None, True, False; ints in decimal;
//   * floats as repr(float): the shortest digits that round-trip, fixed
//     notation for decimal exponents -5 < e < 16 (`0.0001`, `1e-05`,
//     `1000000000000000.0`, `1e+16`), `-0.0`, `inf`, `-inf`, `nan`.
//     inf and nan are not literals: ParseLiteral rejects them, as Python's
//     ast.literal_eval does;
//   * str with CPython's quote choice (single quotes unless the text holds '
//     and no "), escapes \\ \' \t \n \r, \xhh for other ASCII controls and
//     for non-printable code points below U+0100, \uXXXX / \UXXXXXXXX above;
//     printable non-ASCII as is (proto/unicode.h holds CPython's table).
//     Bytes that are not valid UTF-8 print as \udcXX, like a str decoded
//     with errors='surrogateescape' (such a str fails Validate);
//   * bytes as b'...' with the same quote rule, printable ASCII as is,
//     \t \n \r \\ and the quote escaped, everything else \xhh;
//   * [a, b], (a,), (a, b), (), {a, b}, set(), {k: v}, {}.
// Sets print in stored order: for a canonical Value (DecodeValue,
// ParseLiteral, Canonicalize, MakeSet) that is the canonical order, which
// is CPython's order only where CPython's is by value (small non-negative
// ints); CPython's order for other sets depends on hashes (randomized per
// process for str and bytes).
// A missing kind prints as `<unset>`, which is not a literal.
// Recursion is as deep as the value (Validate bounds it).
std::string Repr(const Value& value);

}  // namespace netstructer

#endif  // NETSTRUCTER_PROTO_PYTHON_REPR_H_
