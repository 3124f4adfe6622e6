// The weight store's round-to-nearest recipes (quantized in row blocks on
// several threads, as the artifact is written) give exactly the codes and
// scales of one quantizeRtn call over the whole matrix.
#include "passes/WeightStore.h"
#include "quant/Rtn.h"

#include <gtest/gtest.h>

namespace {

using namespace qcc;

TEST(WeightStore, RecipeEqualsWholeMatrixRtn) {
  auto checkpoint = Checkpoint::open(std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare");
  ASSERT_TRUE(checkpoint.isOk()) << checkpoint.message();
  WeightStore store(std::move(*checkpoint));
  const std::string source = "model.layers.1.mlp.down_proj.weight"; // [256, 768] bf16
  const TensorRef *ref = store.find(source);
  ASSERT_NE(ref, nullptr);
  std::vector<float> w = store.readFloat(source);
  ASSERT_EQ(static_cast<int64_t>(w.size()), ref->numel());

  const formats::FormatSpec specs[] = {
      {formats::Format::FP8, 0}, {formats::Format::INT8, 0}, {formats::Format::W4A16, 128}};
  for (const formats::FormatSpec &spec : specs) {
    for (bool mse : {false, true}) {
      store.setQuantizedRecipe("test.weight", {source, spec, mse});
      auto fromStore = store.quantizedLinear("test.weight");
      ASSERT_TRUE(fromStore.isOk()) << fromStore.message();
      auto whole = quant::quantizeRtn(w.data(), ref->shape[0], ref->shape[1], spec, mse);
      ASSERT_TRUE(whole.isOk()) << whole.message();
      EXPECT_EQ(fromStore->outFeatures, whole->outFeatures);
      EXPECT_EQ(fromStore->inFeatures, whole->inFeatures);
      EXPECT_EQ(fromStore->groupSize, whole->groupSize);
      EXPECT_EQ(fromStore->weights, whole->weights) << formats::formatSpecName(spec) << " mse " << mse;
      EXPECT_EQ(fromStore->scales, whole->scales) << formats::formatSpecName(spec) << " mse " << mse;
    }
  }
  // The source pages were released after quantizing; reading them again still works.
  EXPECT_EQ(store.readFloat(source), w);
}

} // namespace
