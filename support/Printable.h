// Text from input files made safe to print in a message: bytes that a
// terminal would act on (escape sequences, other control characters, NUL,
// C1 controls, bidirectional overrides) and bytes that are not UTF-8 are
// written as visible escapes, so a crafted file name, tensor name or JSON key
// cannot rewrite the user's screen or hide text.
//
//   printable("a\x1b[2Jb")  == "a\\x1b[2Jb"
//   printable("caf\xc3\xa9") == "café"           (valid UTF-8 stays)
//   printable("x\xffy")      == "x\\xffy"
// Newlines and tabs are kept (messages may span lines).
#pragma once

#include <string>
#include <string_view>

namespace qcc {

std::string printable(std::string_view text);

} // namespace qcc
