#include "frontends/llama/Regex.h"

#include "frontends/llama/Utf8.h"

#include <algorithm>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace qcc {

namespace {

// Oniguruma's Unicode \w as a bracket-class body (see Regex.h); outside
// brackets its Latin-1 table also takes the superscript digits and fractions.
#define QCC_ONIG_WORD_IN_CLASS "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}"
#define QCC_ONIG_WORD QCC_ONIG_WORD_IN_CLASS "\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}"

// General categories keep their meaning; any other \p{Name} is a script,
// which PCRE2 (10.40+) would read as Script_Extensions unless told "sc:".
bool isGeneralCategory(std::string_view name) {
  static const char *const kCategories[] = {
      "C",  "Cc", "Cf", "Cn", "Co", "Cs", "L",  "Ll", "Lm", "Lo", "Lt", "Lu", "L&", "M",  "Mc", "Me", "Mn", "N",
      "Nd", "Nl", "No", "P",  "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S",  "Sc", "Sk", "Sm", "So", "Z",  "Zl",
      "Zp", "Zs", "Any"};
  for (const char *c : kCategories)
    if (name == c) return true;
  return false;
}

bool isAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool isHexDigit(char c) {
  return isAsciiDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::string pcre2Message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) return "error " + std::to_string(code);
  return reinterpret_cast<const char *>(buffer);
}

// Per-thread match state: a JIT stack larger than PCRE2's 32 KiB default
// (long whitespace runs under `\s+(?!\S)` backtrack deeply).
struct MatchState {
  pcre2_match_context *context = nullptr;
  pcre2_jit_stack *stack = nullptr;
  MatchState() {
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(64 * 1024, 16 * 1024 * 1024, nullptr);
    if (context && stack) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~MatchState() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
  }
};

MatchState &matchState() {
  thread_local MatchState state;
  return state;
}

} // namespace

struct Regex::Compiled {
  pcre2_code *code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

Expected<std::string> translateOnigurumaPattern(std::string_view p, const std::string &what) {
  auto unsupported = [&](const std::string &construct) {
    return Status::error(what + ": the regular expression construct '" + construct +
                         "' is not supported (qcc runs Oniguruma patterns on PCRE2 and refuses what "
                         "would match differently)");
  };
  std::string out;
  out.reserve(p.size() + 32);
  bool inClass = false;
  size_t classBodyStart = 0; // a ']' here is a literal, not the end of the class
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) return Status::error(what + ": the regular expression ends with a lone backslash");
      char d = p[++i];
      switch (d) {
      case 's': out += "\\p{White_Space}"; break;
      case 'S': out += "\\P{White_Space}"; break;
      case 'w': out += inClass ? QCC_ONIG_WORD_IN_CLASS : "[" QCC_ONIG_WORD "]"; break;
      case 'W':
        if (inClass) return unsupported("\\W inside brackets");
        out += "[^" QCC_ONIG_WORD "]";
        break;
      case 'h': out += inClass ? "0-9A-Fa-f" : "[0-9A-Fa-f]"; break;
      case 'H':
        if (inClass) return unsupported("\\H inside brackets");
        out += "[^0-9A-Fa-f]";
        break;
      case 'v': out += "\\x{0B}"; break;
      case 'u': {
        if (i + 4 >= p.size() || !isHexDigit(p[i + 1]) || !isHexDigit(p[i + 2]) || !isHexDigit(p[i + 3]) ||
            !isHexDigit(p[i + 4]))
          return unsupported("\\u without four hex digits");
        out += "\\x{" + std::string(p.substr(i + 1, 4)) + "}";
        i += 4;
        break;
      }
      case 'p': case 'P': {
        out += '\\';
        out += d;
        size_t close = p.find('}', i + 1);
        if (i + 1 >= p.size() || p[i + 1] != '{' || close == std::string_view::npos)
          return unsupported(std::string("\\") + d + " without {name}");
        std::string_view name = p.substr(i + 2, close - i - 2);
        out += '{';
        if (!name.empty() && name[0] == '^') {
          out += '^';
          name.remove_prefix(1);
        }
        if (!isGeneralCategory(name)) out += "sc:";
        out += name;
        out += '}';
        i = close;
        break;
      }
      // Same meaning in both engines.
      case 'd': case 'D': case 'x': case 't': case 'n': case 'r': case 'f':
      case 'a': case 'e': case 'A': case 'z': case 'Z':
        out += '\\';
        out += d;
        break;
      default:
        if (isAsciiLetter(d)) return unsupported(std::string("\\") + d);
        out += '\\'; // escaped punctuation, a back-reference digit, or a literal byte
        out += d;
      }
      continue;
    }
    if (inClass) {
      if (c == '[') return unsupported(i + 1 < p.size() && p[i + 1] == ':' ? "[:class:]" : "[ inside brackets");
      if (c == '&' && i + 1 < p.size() && p[i + 1] == '&') return unsupported("&& inside brackets");
      if (c == ']' && i != classBodyStart) inClass = false;
      out += c;
      continue;
    }
    if (c == '[') {
      inClass = true;
      out += c;
      size_t j = i + 1;
      if (j < p.size() && p[j] == '^') out += p[j++];
      classBodyStart = j;
      i = j - 1;
      continue;
    }
    if (c == '(' && i + 1 < p.size() && p[i + 1] == '?') {
      std::string_view rest = p.substr(i);
      static const char *const kAllowed[] = {"(?:", "(?=", "(?!", "(?<=", "(?<!", "(?>",
                                             "(?i:", "(?-i:", "(?i)", "(?-i)", "(?#"};
      bool ok = false;
      for (const char *a : kAllowed) ok |= rest.substr(0, std::char_traits<char>::length(a)) == a;
      // A named group (?<name>...).
      ok |= rest.size() > 3 && rest[2] == '<' && isAsciiLetter(rest[3]);
      if (!ok) return unsupported(std::string(rest.substr(0, std::min<size_t>(rest.size(), 4))));
      out += c;
      continue;
    }
    if (c == '{' && i + 1 < p.size() && p[i + 1] == ',') {
      // Oniguruma's {,n} is {0,n}; PCRE2 10.42 would read it as literal text.
      size_t j = i + 2;
      while (j < p.size() && isAsciiDigit(p[j])) ++j;
      if (j > i + 2 && j < p.size() && p[j] == '}') {
        out += "{0,";
        ++i;
        continue;
      }
    }
    out += c;
  }
  if (inClass) return Status::error(what + ": the regular expression has an unterminated '['");
  return out;
}

Expected<Regex> Regex::compile(std::string_view pattern, const std::string &what) {
  Expected<std::string> translated = translateOnigurumaPattern(pattern, what);
  if (!translated) return translated.status();
  return compilePcre2(std::move(*translated), pattern, what);
}

Expected<Regex> Regex::compileNative(std::string_view pcre2Pattern, const std::string &what) {
  return compilePcre2(std::string(pcre2Pattern), pcre2Pattern, what);
}

Expected<Regex> Regex::compilePcre2(std::string translated, std::string_view pattern, const std::string &what) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_compile_context *context = pcre2_compile_context_create(nullptr);
  if (!context) return Status::error(what + ": out of memory compiling the regular expression");
  pcre2_set_newline(context, PCRE2_NEWLINE_LF);
  pcre2_code *code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &error, &offset, context);
  pcre2_compile_context_free(context);
  if (!code)
    return Status::error(what + ": regular expression '" + std::string(pattern) + "' does not compile (" +
                         pcre2Message(error) + " at offset " + std::to_string(offset) +
                         " of its PCRE2 form '" + translated + "')");
  // JIT is an optimisation: without it pcre2_match interprets the pattern.
  (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  auto compiled = std::make_shared<Compiled>();
  compiled->code = code;
  Regex r;
  r.code_ = std::move(compiled);
  r.translated_ = std::move(translated);
  r.what_ = what;
  return r;
}

Expected<Regex> Regex::literal(std::string_view text, const std::string &what) {
  std::string escaped;
  for (char c : text) {
    bool plain = static_cast<uint8_t>(c) >= 0x80 || isAsciiLetter(c) || isAsciiDigit(c);
    if (!plain) escaped += '\\';
    escaped += c;
  }
  if (text.empty()) escaped = "(?:)";
  return compile(escaped, what);
}

Status Regex::findAll(std::string_view text, std::vector<Span> &out) const {
  if (!code_) return Status::error("matching with a regular expression that was never compiled");
  MatchState &state = matchState();
  pcre2_match_data *data = pcre2_match_data_create_from_pattern(code_->code, nullptr);
  if (!data) return Status::error(what_ + ": out of memory matching the regular expression");
  const auto *subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const size_t n = text.size();
  size_t lastEnd = 0, lastMatchEnd = 0;
  bool haveMatch = false;
  Status status = Status::ok();
  while (lastEnd <= n) {
    int rc = pcre2_match(code_->code, subject, n, lastEnd, PCRE2_NO_UTF_CHECK, data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      status = Status::error(what_ + ": matching the regular expression failed (" + pcre2Message(rc) + ")");
      break;
    }
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(data);
    size_t begin = ov[0], end = ov[1];
    if (begin == end && haveMatch && lastMatchEnd == end) {
      // Oniguruma's rule against looping on an empty match: step one character.
      if (lastEnd < n) {
        uint32_t cp;
        lastEnd += utf8::decode(text, lastEnd, &cp);
      } else {
        ++lastEnd;
      }
      continue;
    }
    lastEnd = end;
    lastMatchEnd = end;
    haveMatch = true;
    out.push_back({begin, end});
  }
  pcre2_match_data_free(data);
  return status;
}

Expected<bool> Regex::matchesAt(std::string_view text, size_t offset) const {
  if (!code_) return Status::error("matching with a regular expression that was never compiled");
  pcre2_match_data *data = pcre2_match_data_create_from_pattern(code_->code, nullptr);
  if (!data) return Status::error(what_ + ": out of memory matching the regular expression");
  int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), offset,
                       PCRE2_NO_UTF_CHECK | PCRE2_ANCHORED, data, matchState().context);
  pcre2_match_data_free(data);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) return Status::error(what_ + ": matching the regular expression failed (" + pcre2Message(rc) + ")");
  return true;
}

} // namespace qcc
