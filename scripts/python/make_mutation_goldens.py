#!/usr/bin/env python3
"""Float64 NumPy logits of stories260K with its graph changed (mutation tests).

qcc's executors run what the IR says, not a hand-written Llama: a test
(test/unit/golden/MutatedGraphTest.cpp) imports stories260K, changes the IR the
way each case below describes, compiles and runs it, and compares the logits
with these, computed by numpy_llama.forward with the same change. A bound of
1e-4 on the relative error cannot be met by an executor that ignores the
change: each mutation moves the logits far more than that (the script prints
by how much).

usage: make_mutation_goldens.py [MODEL_DIR] [OUT]
  (default ../shared/models/stories260K, test/golden/stories260K.mutations.safetensors)
needs numpy and safetensors (scripts/python/requirements.txt)."""
import os
import sys

import numpy as np
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_llama  # noqa: E402

MUTATIONS = {
    "none": {},
    # One norm's epsilon, far from the checkpoint's 1e-5.
    "epsilon": {"eps": {"model.layers.2.input_layernorm": 0.5}},
    # The rope of layer 1's queries only (keys keep theta 10000).
    "theta": {"q_theta": {1: 100.0}},
    # Layer 3's MLP output replaces the residual stream instead of adding to it.
    "residual": {"no_mlp_residual": {3}},
    # Layer 0's SwiGLU with its operands exchanged: silu(up) * gate.
    "swiglu": {"swap_swiglu": {0}},
}


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "models", "stories260K")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "test", "golden", "stories260K.mutations.safetensors")
    cfg, w = numpy_llama.load(model)
    rng = np.random.default_rng(2611)
    ids = np.concatenate([[cfg["bos_token_id"]], rng.integers(3, cfg["vocab_size"], 23)]).astype(np.int64)
    tensors = {"input_ids": ids}
    base = None
    for name, mutation in MUTATIONS.items():
        logits = numpy_llama.forward(cfg, w, ids, mutation)
        if base is None:
            base = logits
        moved = np.abs(logits - base).max() / np.abs(base).max()
        print(f"{name:10s} max |logits - unmutated| / max |unmutated| = {moved:.3g}")
        tensors["logits." + name] = logits.astype(np.float32)
    save_file(tensors, out)
    print("wrote", out)


if __name__ == "__main__":
    main()
