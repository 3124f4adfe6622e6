// UTF-8 helpers shared by the tokenizer's encoder, decoder and streaming
// decoder. Well-formed means RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace qcc::utf8 {

// Bytes -> well-formed UTF-8: each maximal invalid subsequence becomes one
// U+FFFD (the Unicode "maximal subpart" practice that Python's
// errors="replace" and Rust's String::from_utf8_lossy follow).
std::string lossy(std::string_view bytes);

// Offset of the first byte that does not start a well-formed sequence, or
// npos when `bytes` is well-formed.
size_t firstInvalid(std::string_view bytes);

// The length of the longest prefix of `bytes` that lossy() can convert
// without knowing what follows: everything except a trailing, still
// incomplete (but so far valid) multi-byte sequence. lossy(prefix) +
// lossy(rest + more) == lossy(bytes + more) for any continuation.
size_t completePrefix(std::string_view bytes);

// Length of the well-formed sequence starting at s[i] (which must be one:
// the input was validated), and its code point.
size_t decode(std::string_view s, size_t i, uint32_t *codePoint);

void append(std::string &out, uint32_t codePoint);

} // namespace qcc::utf8
