// Tuned GEMM tiles: the override table `qcc tune` writes after timing
// candidate tiles on a real GPU, read back by qcc-lower-to-kernels in place of
// chooseGemmTile's built-in choice.
//
// JSON file:
//   {"qcc_tile_table": 1,
//    "entries": [{"target": "sm_90a", "format": "int8", "n": 6144, "k": 4096,
//                 "bucket": "decode", "mTiles": 1, "nTiles": 4, "warpsN": 1,
//                 "kSplit": 4, "wgmma": false, "ms": 0.0123}, ...]}
// bucket "decode" is the tile of M <= 16 launches, "prefill" of larger M.
// `ms` (the measured time) is informational.
#pragma once

#include "codegen/cuda/Targets.h"

#include <string>
#include <vector>

namespace qcc::cuda {

struct TileEntry {
  std::string target; // "sm_90a"
  GemmFormat format = GemmFormat::BF16;
  int64_t n = 0, k = 0;
  bool decode = true; // bucket
  GemmTile tile;
  double ms = 0;
};

struct TileTable {
  std::vector<TileEntry> entries;
  // The entry for the shape, or null.
  const TileEntry *find(const std::string &target, GemmFormat f, int64_t n, int64_t k, bool decode) const;
  // The entries of one target ("sm_90a"), in order.
  TileTable forTarget(const std::string &target) const;
};

// Errors name the file (or `path`, the text's origin), the entry and the field;
// entry targets must be known ones and are stored canonically ("sm_90a").
constexpr uint64_t kMaxTileTableBytes = uint64_t(64) << 20;
Expected<TileTable> readTileTable(const std::string &path); // a regular file of at most kMaxTileTableBytes
Expected<TileTable> parseTileTable(const std::string &text, const std::string &path);
std::string tileTableJson(const TileTable &table);
Status writeTileTable(const std::string &path, const TileTable &table); // atomic (temp file + rename)

Expected<GemmFormat> parseGemmFormat(const std::string &name); // "bf16" "int8" "fp8" "w4a16" "fp8w"

// chooseGemmTile with the table's entry for (target, format, n, k, bucket of M) first.
GemmTile chooseGemmTile(const GpuTarget &target, GemmFormat f, int64_t M, int64_t N, int64_t K,
                        const TileTable *overrides);

} // namespace qcc::cuda
