#include "frontends/compressed_tensors/PythonRegex.h"

#include <cctype>
#include <regex.h>

namespace qcc::compressed_tensors {

namespace {

Status unsupported(const std::string &pattern, const std::string &what) {
  return Status::error("regular expression '" + pattern + "': " + what +
                       " is not supported (qcc matches Python patterns with POSIX extended regular "
                       "expressions)");
}

// The class body (without brackets) of a Python class escape, or nullptr.
const char *classBody(char c) {
  switch (c) {
  case 'd': return "0-9";
  case 'w': return "A-Za-z0-9_";
  case 's': return "[:space:]";
  default: return nullptr;
  }
}

bool isLazyQuantifierEnd(char c) { return c == '*' || c == '+' || c == '?' || c == '}'; }

} // namespace

Expected<std::string> translatePythonRegex(const std::string &p) {
  std::string out;
  bool inClass = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (inClass) {
      if (c == ']' && !(out.back() == '[' || (out.size() >= 2 && out.back() == '^' && out[out.size() - 2] == '['))) {
        inClass = false;
        out += c;
      } else if (c == '\\') {
        if (i + 1 >= p.size()) return unsupported(p, "a trailing backslash");
        char e = p[++i];
        if (const char *body = classBody(e)) out += body;
        else if (e == 'D' || e == 'W' || e == 'S') return unsupported(p, std::string("\\") + e + " inside [...]");
        else if (e == ']' || e == '^' || e == '-' || e == '[') return unsupported(p, std::string("\\") + e + " inside [...]");
        else if (std::isalnum(static_cast<unsigned char>(e))) return unsupported(p, std::string("the escape \\") + e);
        else out += e; // a literal: \. \\ \/ ...
      } else {
        out += c;
      }
      continue;
    }
    switch (c) {
    case '\\': {
      if (i + 1 >= p.size()) return unsupported(p, "a trailing backslash");
      char e = p[++i];
      if (const char *body = classBody(e)) out += std::string("[") + body + "]";
      else if (e == 'D' || e == 'W' || e == 'S') out += std::string("[^") + classBody(char(e - 'A' + 'a')) + "]";
      else if (e == 'A') out += "^";
      else if (e == 'Z') out += "$";
      else if (e >= '1' && e <= '9') return unsupported(p, "a backreference");
      else if (std::isalnum(static_cast<unsigned char>(e))) return unsupported(p, std::string("the escape \\") + e);
      else {
        out += '\\';
        out += e;
      }
      break;
    }
    case '[':
      inClass = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i]; // a leading ] is literal
      break;
    case '(':
      if (i + 1 < p.size() && p[i + 1] == '?') {
        if (i + 2 < p.size() && p[i + 2] == ':') {
          out += '(';
          i += 2;
        } else {
          return unsupported(p, "the group construct '(?" + std::string(i + 2 < p.size() ? 1 : 0, p[i + 2]) + "'");
        }
      } else {
        out += c;
      }
      break;
    case '?':
      // A '?' right after a quantifier makes it lazy: drop it.
      if (i > 0 && isLazyQuantifierEnd(p[i - 1]) && !(i >= 2 && p[i - 2] == '\\')) break;
      out += c;
      break;
    default: out += c;
    }
  }
  if (inClass) return unsupported(p, "an unterminated [");
  return out;
}

struct PythonRegex::Compiled {
  regex_t re;
  bool live = false; // regcomp succeeded: regfree owes it
  ~Compiled() {
    if (live) regfree(&re);
  }
};

Expected<PythonRegex> PythonRegex::compile(const std::string &pattern) {
  Expected<std::string> ere = translatePythonRegex(pattern);
  if (!ere) return ere.status();
  auto compiled = std::make_shared<Compiled>();
  // Anchored at the start only, as re.match is.
  std::string anchored = "^(" + *ere + ")";
  int rc = regcomp(&compiled->re, anchored.c_str(), REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char buf[256];
    regerror(rc, &compiled->re, buf, sizeof buf);
    return Status::error("regular expression '" + pattern + "' is invalid: " + buf);
  }
  compiled->live = true;
  PythonRegex r;
  r.pattern_ = pattern;
  r.compiled_ = std::move(compiled);
  return r;
}

bool PythonRegex::matchesAtStart(const std::string &text) const {
  return regexec(&compiled_->re, text.c_str(), 0, nullptr, 0) == 0;
}

} // namespace qcc::compressed_tensors
