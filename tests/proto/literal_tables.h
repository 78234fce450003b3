// Shared tables of Python literals: the unit tests check our own results,
// python_interop_test.cc checks the same tables against CPython.
#ifndef NETSTRUCTER_TESTS_PROTO_LITERAL_TABLES_H_
#define NETSTRUCTER_TESTS_PROTO_LITERAL_TABLES_H_

#include <string>
#include <vector>

namespace netstructer::testing {

// Literals ParseLiteral accepts and whose Repr equals CPython's
// repr(ast.literal_eval(literal)) byte for byte. Sets in them are either
// of small non-negative ints (CPython prints those in ascending order, as we
// do) or singletons.
std::vector<std::string> ReprLiterals();

// Literals with sets whose CPython order depends on hashes: compared as
// values, not as text.
std::vector<std::string> UnorderedSetLiterals();

struct BadLiteral {
  std::string text;
  std::string message;          // ParseLiteral's exact status message.
  bool python_accepts = false;  // A documented difference from CPython.
};

// Literals ParseLiteral rejects with INVALID_ARGUMENT. CPython's
// ast.literal_eval rejects them too, except those marked python_accepts.
std::vector<BadLiteral> BadLiterals();

}  // namespace netstructer::testing

#endif  // NETSTRUCTER_TESTS_PROTO_LITERAL_TABLES_H_
