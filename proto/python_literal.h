// ParseLiteral: Python literal syntax (what ast.literal_eval accepts for the
// kinds a Value holds) into a canonical Value. Repr (proto/python_repr.h)
// prints it back.
#ifndef NETSTRUCTER_PROTO_PYTHON_LITERAL_H_
#define NETSTRUCTER_PROTO_PYTHON_LITERAL_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/proto/value_limits.h"
#include "proto/value.pb.h"

namespace netstructer {

// Parses one literal, e.g.
//   ['hi im haytam', 128, {b'gg': 'gg'}, {1, 2, 6, 4}, (False, True)]
// into a Value that is valid and canonical (proto/value_canonical.h): sets
// deduplicated and sorted, repeated dict keys collapsed as Python does.
//
// Accepted, as Python 3.11 spells them:
//   * None, True, False;
//   * ints: decimal (no leading zeros), 0x / 0o / 0b, `_` between digits,
//     one optional sign, also before parentheses: -(1);
//   * floats: 1.5, .5, 1., 1e10, 1_0.0_1e-1_0; a literal too large is inf
//     and one too small 0.0, as in Python; inf and nan are not literals;
//   * str and bytes: '...', "...", '''...''', """...""", prefixes r, u, b,
//     rb / br in any case; escapes \\ \' \" \a \b \f \n \r \t \v \ooo \xhh,
//     and in str \uXXXX \UXXXXXXXX; a backslash before a newline continues
//     the line; unknown escapes such as \q stay as written; adjacent literals
//     concatenate ('a' "b" is 'ab'; mixing str and bytes is an error);
//   * [..], (..), {k: v, ..}, {a, ..}, {}, (), (x,), set(); trailing commas;
//   * whitespace (space, tab, form feed, newlines), # comments and
//     backslash-newline between tokens, newlines anywhere between tokens.
// Not accepted (each an error): complex numbers, arithmetic, \N{name}
// escapes, ints outside int64 ("integer out of range"), and \ud800-style
// escapes of lone surrogates (a str is UTF-8; Python allows them).
//
// Errors:
//   RESOURCE_EXHAUSTED  text.size() > limits.max_input_bytes;
//   INVALID_ARGUMENT    "at offset N: <what>", N being the byte offset in
//                       `text` of the offending token, for bad syntax,
//                       invalid UTF-8, NUL bytes, unhashable set members or
//                       dict keys ("unhashable type: 'list'"), and nesting
//                       deeper than limits.max_depth (every bracket counts,
//                       redundant parentheses too).
absl::StatusOr<Value> ParseLiteral(absl::string_view text,
                                   const ValueLimits& limits = {});

}  // namespace netstructer

#endif  // NETSTRUCTER_PROTO_PYTHON_LITERAL_H_
