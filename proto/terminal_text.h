// Text from the network made safe to show on a terminal or write to a log.
//
// A peer chooses the reasons of its REFUSAL, GOAWAY, CANCEL and TRAILERS
// (docs/PROTOCOL.md 7.5): printed raw, an escape sequence could rewrite the
// screen, a newline could forge a log line. Everything a peer said goes
// through EscapeForTerminal before it is printed.
#ifndef NETSTRUCTER_PROTO_TERMINAL_TEXT_H_
#define NETSTRUCTER_PROTO_TERMINAL_TEXT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace netstructer {

// `text` with every C0 control (U+0000-U+001F), DEL (U+007F) and C1 control
// (U+0080-U+009F) written as \xNN or \u00NN, every byte that does not start
// valid UTF-8 as \xNN, and every backslash doubled (so the escaping is
// unambiguous). Printable text, non-ASCII letters included, is unchanged.
std::string EscapeForTerminal(absl::string_view text);

// "CODE: message" with the message escaped: how a status that may carry a
// peer's text is printed.
std::string StatusForTerminal(const absl::Status& status);

}  // namespace netstructer

#endif  // NETSTRUCTER_PROTO_TERMINAL_TEXT_H_
