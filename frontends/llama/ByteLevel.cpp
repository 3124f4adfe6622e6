#include "frontends/llama/ByteLevel.h"

#include "frontends/llama/Utf8.h"

namespace qcc::bytelevel {

namespace {

struct Table {
  uint32_t toUnicode[256];
  std::string symbol[256];
  int toByte[512]; // every symbol is below U+0200
  Table() {
    for (int &b : toByte) b = -1;
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      toUnicode[b] = printable ? static_cast<uint32_t>(b) : next++;
      toByte[toUnicode[b]] = b;
      utf8::append(symbol[b], toUnicode[b]);
    }
  }
};

const Table &table() {
  static const Table t;
  return t;
}

} // namespace

uint32_t toUnicode(uint8_t b) { return table().toUnicode[b]; }

int toByte(uint32_t cp) { return cp < 512 ? table().toByte[cp] : -1; }

const std::string &symbol(uint8_t b) { return table().symbol[b]; }

void appendSymbols(std::string_view bytes, std::string &out) {
  const Table &t = table();
  for (char c : bytes) out += t.symbol[static_cast<uint8_t>(c)];
}

} // namespace qcc::bytelevel
