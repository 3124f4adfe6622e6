// stories260K (../shared/models, float32, GQA 8:4, tied embeddings) through the
// checkpoint reader and the CPU interpreter (on the test's Llama program).
#include "LlamaProgram.h"

#include "frontends/llama/Checkpoint.h"
#include "runtime/cpu/Interpreter.h"
#include "runtime/cpu/Sampling.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace qcc;
using namespace qcc::cpu;

TEST(CpuStories, GreedyDecodeIsConsistentAndPlausible) {
  auto ckpt = Checkpoint::open(QCC_SHARED_DIR "/models/stories260K");
  if (!ckpt) GTEST_SKIP() << ckpt.message();
  test::NamedWeights weights(**ckpt);
  auto model = Interpreter::create(test::llamaProgram((*ckpt)->config(), weights), weights, {});
  ASSERT_TRUE(model.isOk()) << model.message();
  EXPECT_EQ((*model)->actDtype(), ActDType::F32); // float32 checkpoint
  Session s(**model);
  std::vector<int64_t> ids = {1};
  auto logits = s.prefill(ids);
  ASSERT_TRUE(logits.isOk());
  for (int i = 0; i < 40; ++i) {
    int64_t next = argmax(logits->data() + logits->size() - 512, 512);
    ids.push_back(next);
    logits = s.decode(next);
    ASSERT_TRUE(logits.isOk());
  }
  // The same sequence in one prefill predicts the same continuation.
  auto all = (*model)->forward(std::vector<int64_t>(ids.begin(), ids.end() - 1));
  ASSERT_TRUE(all.isOk());
  for (size_t t = 0; t + 1 < ids.size(); ++t)
    EXPECT_EQ(argmax(all->data() + t * 512, 512), ids[t + 1]) << t;
  // A trained model is far better than uniform (ppl 512) on its own greedy text.
  auto p = perplexity(**model, ids, 64);
  ASSERT_TRUE(p.isOk());
  EXPECT_LT(p->perplexity, 10.0);
}
