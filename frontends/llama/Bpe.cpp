#include "frontends/llama/Bpe.h"

#include <queue>

namespace qcc {

Expected<Bpe> Bpe::build(const std::unordered_map<std::string_view, int32_t> *vocab,
                         const std::vector<std::pair<std::string, std::string>> &merges,
                         const std::string &file) {
  Bpe bpe;
  bpe.vocab_ = vocab;
  bpe.merges_.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto &[left, right] = merges[rank];
    auto where = [&] { return file + ": model.merges[" + std::to_string(rank) + "] ('" + left + "' '" + right + "')"; };
    auto a = vocab->find(left), b = vocab->find(right);
    if (a == vocab->end()) return Status::error(where() + ": '" + left + "' is not in the vocabulary");
    if (b == vocab->end()) return Status::error(where() + ": '" + right + "' is not in the vocabulary");
    joined.assign(left).append(right);
    auto result = vocab->find(joined);
    if (result == vocab->end())
      return Status::error(where() + ": the merged token '" + joined + "' is not in the vocabulary");
    auto [it, fresh] = bpe.merges_.emplace(pairKey(a->second, b->second),
                                           Merge{static_cast<uint32_t>(rank), result->second});
    if (!fresh) return Status::error(where() + ": repeats model.merges[" + std::to_string(it->second.rank) + "]");
  }
  return bpe;
}

void Bpe::tokenize(std::string_view piece, std::vector<int32_t> &out, Cache *cache) const {
  if (piece.empty()) return;
  if (options_.ignoreMerges) {
    auto it = vocab_->find(piece);
    if (it != vocab_->end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (cache) {
    auto hit = cache->entries_.find(piece);
    if (hit != cache->entries_.end()) {
      out.insert(out.end(), hit->second.begin(), hit->second.end());
      return;
    }
  }
  size_t before = out.size();
  mergeWord(piece, out);
  if (cache && piece.size() < Cache::kMaxPieceBytes && cache->entries_.size() < Cache::kCapacity) {
    cache->keys_.emplace_back(piece);
    cache->entries_.emplace(cache->keys_.back(), std::vector<int32_t>(out.begin() + before, out.end()));
  }
}

void Bpe::mergeWord(std::string_view piece, std::vector<int32_t> &out) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next; // -1: none
    uint32_t length;    // 0: merged into its left neighbour
  };
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  auto add = [&](int32_t id, uint32_t length) {
    int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, -1, length});
    if (index > 0) symbols[index - 1].next = index;
  };
  // One symbol per character; characters outside the vocabulary become unk.
  int32_t pendingUnk = -1;
  uint32_t pendingUnkLength = 0;
  for (size_t i = 0; i < piece.size();) {
    uint8_t b = static_cast<uint8_t>(piece[i]);
    size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    auto it = vocab_->find(piece.substr(i, len));
    if (it != vocab_->end()) {
      if (pendingUnk >= 0) add(pendingUnk, pendingUnkLength), pendingUnk = -1;
      add(it->second, static_cast<uint32_t>(len));
    } else if (options_.unkId >= 0) {
      if (pendingUnk >= 0 && options_.fuseUnk) {
        pendingUnkLength += static_cast<uint32_t>(len);
      } else {
        if (pendingUnk >= 0) add(pendingUnk, pendingUnkLength);
        pendingUnk = options_.unkId;
        pendingUnkLength = static_cast<uint32_t>(len);
      }
    }
    i += len;
  }
  if (pendingUnk >= 0) add(pendingUnk, pendingUnkLength);

  // Lowest rank first, then leftmost (tokenizers' Word::merge_all).
  struct Candidate {
    uint32_t rank;
    int32_t pos;
    int32_t result;
    bool operator<(const Candidate &o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate> queue;
  auto consider = [&](int32_t pos) {
    const Symbol &s = symbols[pos];
    if (s.next < 0) return;
    auto m = merges_.find(pairKey(s.id, symbols[s.next].id));
    if (m != merges_.end()) queue.push({m->second.rank, pos, m->second.result});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i);
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol &left = symbols[top.pos];
    if (left.length == 0 || left.next < 0) continue;
    const Symbol right = symbols[left.next];
    auto m = merges_.find(pairKey(left.id, right.id));
    if (m == merges_.end() || m->second.result != top.result) continue; // stale
    symbols[left.next].length = 0;
    left.id = top.result;
    left.length += right.length;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }
  for (const Symbol &s : symbols)
    if (s.length != 0) out.push_back(s.id);
}

} // namespace qcc
