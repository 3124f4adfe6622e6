// GPT-2's byte-level alphabet (bytes_to_unicode), which byte-level BPE
// vocabularies are spelled in: printable Latin-1 bytes stand for themselves,
// the other 68 bytes map in order to U+0100, U+0101, ... (space is "Ġ").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace qcc::bytelevel {

// The code point standing for byte b.
uint32_t toUnicode(uint8_t b);
// The byte a code point stands for, or -1 when it is not in the alphabet.
int toByte(uint32_t codePoint);
// The UTF-8 spelling of byte b's symbol.
const std::string &symbol(uint8_t b);
// Appends the byte-level spelling of `bytes` to `out`.
void appendSymbols(std::string_view bytes, std::string &out);

} // namespace qcc::bytelevel
