// `qcc inspect` and `qcc run` end to end on artifacts from
// qcc-make-test-artifact; `qcc run` ids are checked against the CPU executor
// run directly on the checkpoint.
#include "frontends/llama/Checkpoint.h"
#include "../cpu/LlamaProgram.h"
#include "runtime/cpu/Interpreter.h"
#include "runtime/cpu/Sampling.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace {

struct Result {
  int code = -1;
  std::string out, err;
};

// Runs a shell command line, capturing stdout and stderr.
Result sh(const std::string &cmd) {
  static int n = 0;
  const std::string errPath = "/tmp/qcc-cli-test-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ".err";
  Result r;
  FILE *p = popen((cmd + " 2>" + errPath).c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, k);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(errPath);
  r.err.assign(std::istreambuf_iterator<char>(e), std::istreambuf_iterator<char>());
  std::remove(errPath.c_str());
  return r;
}

class Cli : public ::testing::Test {
protected:
  void SetUp() override {
    char buf[] = "/tmp/qcc-cli-test-XXXXXX";
    dir = mkdtemp(buf);
  }
  void TearDown() override { sh("rm -rf '" + dir + "'"); }
  std::string make(const std::string &name, const std::string &args) {
    const std::string path = dir + "/" + name;
    Result r = sh(std::string(QCC_MAKE_TEST_ARTIFACT) + " " + path + " " + args);
    EXPECT_EQ(r.code, 0) << r.err;
    return path;
  }
  std::string dir;
};

const std::string kQcc = QCC_CLI;

} // namespace

TEST_F(Cli, InspectShowsFormatsKernelsAndProvenance) {
  std::string path = make("w4.qcc", "--format w4a16:g32 --fake-kernels sm_80,sm_90a");
  Result r = sh(kQcc + " inspect " + path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("format version 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("program: 33 ops (add 4, attention 2, embedding 1, linear 14, logits 1, rms_norm 5, rope 4, "
                       "swiglu 2), 2 KV caches, bf16 activations"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  model.layers.0.self_attn.k_proj              w4a16/g32 rtn"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  lm_head                                      w4a16/g32 rtn"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sm_90a  1 kernels"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("w4a16        15 tensors"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("provenance: qcc 0.2.0 (test builder)"), std::string::npos) << r.out;
  r = sh(kQcc + " inspect --tensors " + path);
  ASSERT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("model.layers.1.mlp.down_proj.weight"), std::string::npos);
}

TEST_F(Cli, InspectAndRunRejectBadFilesCleanly) {
  std::string path = dir + "/bad.qcc";
  std::ofstream(path) << "QCCARTIF but not really an artifact";
  Result r = sh(kQcc + " inspect " + path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("qcc inspect: error: " + path + ": "), std::string::npos) << r.err;
  r = sh(kQcc + " run " + path + " --prompt-ids '1 2'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("qcc run: error: " + path), std::string::npos) << r.err;
  r = sh(kQcc + " inspect " + dir + "/missing.qcc");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
}

TEST_F(Cli, RunArgumentErrors) {
  std::string path = make("t.qcc", "--format int8");
  EXPECT_EQ(sh(kQcc + " run " + path + " --prompt-ids '1 2' -n abc").code, 1);
  Result r = sh(kQcc + " run " + path + " --prompt-ids '1 999'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("999"), std::string::npos) << r.err;
  r = sh(kQcc + " run " + path + " --prompt-ids '1' --device tpu");
  EXPECT_NE(r.err.find("unknown device 'tpu' (expected auto, cpu or cuda)"), std::string::npos) << r.err;
  r = sh(kQcc + " run " + path + " --prompt-ids '1' --device cuda");
  // No GPU here: the driver is missing; on a GPU machine: no kernels / no executor.
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--device cuda: "), std::string::npos) << r.err;
}

// stories260K (float32) as a dense artifact: `qcc run` must produce exactly the
// greedy ids of the CPU executor on the checkpoint.
TEST_F(Cli, RunMatchesTheExecutorOnStories260K) {
  const std::string model = std::string(QCC_SHARED_DIR) + "/models/stories260K";
  if (access((model + "/model.safetensors").c_str(), R_OK) != 0) GTEST_SKIP() << "no " << model;
  std::string path = make("stories.qcc", "--checkpoint " + model);
  Result r = sh(kQcc + " run " + path + " --prompt-ids '1 403 407' -n 24 --device auto --ignore-eos");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("qcc run: device cpu ("), std::string::npos) << r.err;

  auto ckpt = qcc::Checkpoint::open(model);
  ASSERT_TRUE(ckpt.isOk()) << ckpt.message();
  qcc::cpu::ExecutorOptions eo;
  eo.maxSeqLen = 64;
  qcc::test::NamedWeights weights(**ckpt);
  auto m = qcc::cpu::Interpreter::create(qcc::test::llamaProgram((*ckpt)->config(), weights), weights, eo);
  ASSERT_TRUE(m.isOk()) << m.message();
  qcc::cpu::Session s(**m);
  auto logits = s.prefill({1, 403, 407});
  ASSERT_TRUE(logits.isOk());
  const int64_t V = (*ckpt)->config().vocabSize;
  std::vector<float> last(logits->end() - V, logits->end());
  std::string expected;
  for (int i = 0; i < 24; ++i) {
    int64_t next = qcc::cpu::argmax(last.data(), V);
    expected += (expected.empty() ? "" : " ") + std::to_string(next);
    if (i + 1 < 24) last = *s.decode(next);
  }
  EXPECT_EQ(r.out, expected + "\n");
  std::printf("[ info ] stories260K qcc run ids: %s\n", expected.c_str());
}

TEST_F(Cli, RunDecodesWithTheEmbeddedTokenizer) {
  // A byte-level BPE vocabulary "a0".."a95" for the tiny model's 96 ids.
  std::string json = "{\"model\":{\"type\":\"BPE\",\"vocab\":{";
  for (int i = 0; i < 96; ++i) json += (i ? ",\"a" : "\"a") + std::to_string(i) + "\":" + std::to_string(i);
  json += "},\"merges\":[]},\"decoder\":{\"type\":\"ByteLevel\"}}";
  std::ofstream(dir + "/tokenizer.json") << json;
  std::string path = make("tok.qcc", "--format fp8 --tokenizer " + dir + "/tokenizer.json");
  Result r = sh(kQcc + " run " + path + " --prompt-ids '1 5' -n 6 --ignore-eos --temperature 0.8 --seed 7");
  ASSERT_EQ(r.code, 0) << r.err;
  // Line 1: the ids; line 2: the text of prompt + generated ids.
  size_t nl = r.out.find('\n');
  ASSERT_NE(nl, std::string::npos);
  std::string text = "a1a5";
  std::istringstream ids(r.out.substr(0, nl));
  int count = 0;
  for (int64_t id; ids >> id; ++count) text += "a" + std::to_string(id);
  EXPECT_EQ(count, 6);
  EXPECT_EQ(r.out.substr(nl + 1), text + "\n");
  // Same seed, same ids.
  EXPECT_EQ(sh(kQcc + " run " + path + " --prompt-ids '1 5' -n 6 --ignore-eos --temperature 0.8 --seed 7").out, r.out);
}

// kill -9 in the middle of `qcc compile` writing its artifact: nothing is
// left in the output folder (the temporary is an unnamed O_TMPFILE) and the
// file that was at the output path is unchanged.
TEST_F(Cli, KillNineDuringCompileLeavesNothing) {
  // A checkpoint big enough (about 110 MB of f32) that the write takes a while.
  const std::string model = dir + "/model", out = dir + "/out";
  ASSERT_EQ(sh("mkdir -p '" + model + "' '" + out + "'").code, 0);
  const int64_t D = 512, F = 1536, L = 8, V = 4096, H = 8, Hkv = 2, Dh = 64;
  {
    std::ofstream c(model + "/config.json");
    c << "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": " << D
      << ", \"intermediate_size\": " << F << ", \"num_hidden_layers\": " << L << ", \"num_attention_heads\": " << H
      << ", \"num_key_value_heads\": " << Hkv << ", \"vocab_size\": " << V << ", \"torch_dtype\": \"float32\"}";
  }
  qcc::ModelConfig config;
  config.hiddenSize = D, config.intermediateSize = F, config.numLayers = L, config.numHeads = H;
  config.numKvHeads = Hkv, config.headDim = Dh, config.vocabSize = V;
  std::vector<std::vector<float>> storage;
  std::vector<qcc::SafetensorsEntry> entries;
  uint32_t state = 7;
  for (const auto &[name, shape] : qcc::Checkpoint::expectedTensors(config)) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    storage.emplace_back(size_t(n));
    for (float &x : storage.back()) x = float(int((state = state * 1664525u + 1013904223u) >> 24) - 128) / 1024.0f;
    entries.push_back({name, qcc::DType::F32, shape, storage.back().data()});
  }
  ASSERT_TRUE(qcc::writeSafetensors(model + "/model.safetensors", entries).isOk());
  storage.clear();
  { std::ofstream(out + "/m.qcc") << "the user's previous artifact"; }

  const pid_t pid = fork();
  if (pid == 0) {
    execl(kQcc.c_str(), kQcc.c_str(), "compile", model.c_str(), "--format", "int8", "--no-kernels", "-o",
          (out + "/m.qcc").c_str(), "--quiet", static_cast<char *>(nullptr));
    _exit(127);
  }
  // Wait until the compile holds a file open in the output folder (its
  // temporary) on two looks 5 ms apart (not the instant probe of the
  // output check), then kill it.
  bool writing = false;
  int seen = 0;
  for (int i = 0; i < 20000 && !writing; ++i) {
    Result fds = sh("ls -l /proc/" + std::to_string(pid) + "/fd 2>/dev/null");
    seen = fds.out.find(out + "/") != std::string::npos ? seen + 1 : 0;
    writing = seen >= 2;
    usleep(seen ? 5000 : 1000);
  }
  ASSERT_TRUE(writing) << "the compile never opened a file in " << out;
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the compile ended before it was killed";
  Result ls = sh("ls -A '" + out + "'");
  EXPECT_EQ(ls.out, "m.qcc\n");
  std::ifstream kept(out + "/m.qcc");
  std::string text((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "the user's previous artifact");
}
