// The BPE model of a tokenizer.json: a pre-tokenized piece (already spelled
// in the byte-level alphabet) -> token ids, as `tokenizers`' BPE does it:
//  - ignore_merges: a piece that is itself in the vocabulary is that token
//  - else each character becomes its vocabulary symbol (a character the
//    vocabulary lacks becomes unk_token, consecutive ones fused into one when
//    fuse_unk; without unk_token it is dropped, like `tokenizers`), then the
//    adjacent pair with the lowest merge rank is merged, leftmost first among
//    equal ranks, until no pair has a merge
//  - results for pieces shorter than 256 bytes are cached (10,000 entries,
//    `tokenizers`' defaults)
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qcc {

class Bpe {
public:
  struct Options {
    bool ignoreMerges = false;
    int32_t unkId = -1; // -1: no unk token
    bool fuseUnk = false;
  };
  // `vocab` maps token strings to ids and must outlive the model (its keys
  // view strings owned by the caller). Merges are (left, right) token pairs
  // in rank order; each side and their concatenation must be in `vocab`.
  static Expected<Bpe> build(const std::unordered_map<std::string_view, int32_t> *vocab,
                             const std::vector<std::pair<std::string, std::string>> &merges,
                             const std::string &file);
  void setOptions(const Options &options) { options_ = options; }

  // Appends the ids of `piece`. Not for concurrent use of one cache: the
  // caller passes the cache it owns (or nullptr for none).
  class Cache;
  void tokenize(std::string_view piece, std::vector<int32_t> &out, Cache *cache) const;

  class Cache {
  public:
    static constexpr size_t kCapacity = 10000;
    static constexpr size_t kMaxPieceBytes = 256;

  private:
    friend class Bpe;
    std::deque<std::string> keys_; // stable storage for the map's keys
    std::unordered_map<std::string_view, std::vector<int32_t>> entries_;
  };

private:
  static uint64_t pairKey(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void mergeWord(std::string_view piece, std::vector<int32_t> &out) const;

  const std::unordered_map<std::string_view, int32_t> *vocab_ = nullptr;
  struct Merge {
    uint32_t rank;
    int32_t result;
  };
  std::unordered_map<uint64_t, Merge> merges_;
  Options options_;
};

} // namespace qcc
