"""Decode speed of Hugging Face transformers on the same GPU and model, for `make bench-gpu`.

Reference measurement only (not part of the build): the GGUF file is dequantised by
transformers (through the gguf package) to fp32, as our GPU path holds it. A prompt of 1024
tokens fills the cache, then each step feeds one token and copies its logits to the host, as
`sinks bench --device cuda` does. transformers has no sink cache (SinkCache went in v4.53), so
it keeps a dense cache of 1024 to 1024 + steps tokens: attention over the same number of keys.

usage: python3 tools/hf_bench.py MODEL.gguf [steps]
"""
import os
import statistics
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM

path = sys.argv[1]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 128
directory, name = os.path.split(os.path.abspath(path))
model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32).cuda().eval()
V = model.config.vocab_size
ids = torch.tensor([[(i * 7919 + 13) % V for i in range(1024 + steps)]], device="cuda")
rows = []
with torch.inference_mode():
    for attn in ("sdpa", "eager"):
        model.config._attn_implementation = attn
        out = model(ids[:, :1024], use_cache=True)
        past = out.past_key_values
        times = []
        for s in range(steps):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = model(ids[:, 1024 + s : 1025 + s], past_key_values=past, use_cache=True)
            logits = out.logits[0, -1].cpu()  # the host needs them to sample, as ours does
            past = out.past_key_values
            times.append(time.perf_counter() - t0)
        med = statistics.median(times[1:])
        rows.append((attn, 1 / med, med * 1e3))
print(f"device: {torch.cuda.get_device_name()}; torch {torch.__version__}, transformers {transformers.__version__}")
print(f"command: python3 tools/hf_bench.py {path} {steps}")
print("| transformers decode (fp32, dense cache 1024+) | tok/s | ms/token |\n|---|---|---|")
for attn, tps, ms in rows:
    print(f"| attn_implementation={attn} | {tps:.0f} | {ms:.2f} |")
