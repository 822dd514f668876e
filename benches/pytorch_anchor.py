#!/usr/bin/env python3
"""PyTorch on the CPU as the speed anchor for `sdalab assimilate`, measured side by side.

The same Lorenz-63 score network (shapes and weights read from a bundled checkpoint), the same
window composition, SDA guidance and predictor-corrector loop as `sdalab assimilate`, written
in PyTorch. `side-by-side` runs it and `sdalab` alternately (ours, theirs, ours, ...) as child
processes and writes the CPU-time and wall-time ratios, median of the pairs, as markdown.

A benchmark dependency only: nothing in the build, the tests or CI needs Python or PyTorch.

    python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch numpy
    /tmp/torch/bin/python benches/pytorch_anchor.py side-by-side --pairs 5 \
        --sdalab target/release/sdalab --out assets/bench/pytorch-lorenz63.md

`loop` runs only the PyTorch side once (and can write its ensemble as .npy for comparison).
"""

import argparse
import json
import math
import os
import resource
import statistics
import struct
import subprocess
import sys
import time

import numpy as np

ETA = 1e-3
OMEGA = math.acos(math.sqrt(ETA))


def mu(t):
    return math.cos(OMEGA * t) ** 2


def sigma(t):
    return math.sqrt(1.0 - mu(t) ** 2 + ETA**2)


def load_safetensors(path):
    """A safetensors file as numpy arrays (the format is an 8-byte length, JSON, raw data)."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        assert info["dtype"] == "F32", f"{key}: {info['dtype']}"
        start, end = info["data_offsets"]
        out[key] = np.frombuffer(data[start:end], dtype=np.float32).reshape(info["shape"])
    return out


def build_network(torch, checkpoint):
    """The checkpoint's residual MLP, preconditioned as sdalab's ScoreNetwork, weights frozen."""
    config = json.load(open(os.path.join(checkpoint, "config.json")))
    arch = config["architecture"]
    assert arch["kind"] == "mlp", "the anchor covers the MLP checkpoints"
    weights = {k: torch.from_numpy(v.copy()) for k, v in load_safetensors(os.path.join(checkpoint, "model.safetensors")).items()}
    freqs = torch.pi * torch.arange(1, arch["frequencies"] + 1, dtype=torch.float32)
    depth = arch["depth"]
    F = torch.nn.functional

    def linear(x, name):
        return F.linear(x, weights[name + ".weight"], weights[name + ".bias"])

    def raw(x, t):
        # x: [B, features]; one diffusion time t for every row.
        phase = freqs * t
        features = torch.cat([torch.cos(phase), torch.sin(phase)])[None, :]
        emb = linear(F.silu(linear(features, "time.hidden")), "time.output").expand(x.shape[0], -1)
        h = linear(torch.cat([x, emb], dim=1), "input")
        for i in range(depth):
            n = F.layer_norm(h, (h.shape[1],), eps=1e-5)
            h = h + linear(F.silu(linear(n, f"blocks.{i}.expand")), f"blocks.{i}.contract")
        return linear(h, "output")

    def epsilon(x, t):
        m, s = mu(t), sigma(t)
        norm2 = m * m + s * s
        return (s / norm2) * x + (m / math.sqrt(norm2)) * raw(x, t)

    return config, epsilon


def run_loop(args):
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config, epsilon = build_network(torch, args.checkpoint)
    scenario = json.load(open(args.scenario))
    length, window = scenario["length"], config["window"]
    k = window // 2
    d = config["state_shape"][0]
    center = torch.tensor(config["center"], dtype=torch.float32)
    scale = torch.tensor(config["scale"], dtype=torch.float32)
    obs = scenario["observations"]
    assert all(o["op"] == "identity" for o in obs), "the anchor loop observes with identity operators"
    flat = torch.tensor([o["t"] * d + o["index"] for o in obs])
    values = torch.tensor([o["value"] for o in obs], dtype=torch.float32)
    variances = torch.tensor([o["std"] ** 2 for o in obs], dtype=torch.float32)
    scale2 = (scale**2).repeat(length)[flat]
    count = length - 2 * k

    def composed(x, t):
        # [S, L, d] -> [S*J, W*d] windows -> ε -> assembled [S, L, d].
        s = x.shape[0]
        windows = x.unfold(1, window, 1).permute(0, 1, 3, 2).reshape(s * count, window * d)
        e = epsilon(windows, t).reshape(s, count, window, d)
        return torch.cat([e[:, 0, :k], e[:, :, k], e[:, -1, k + 1 :]], dim=1)

    def guided(x, t):
        m, s = mu(t), sigma(t)
        x = x.detach().requires_grad_(True)
        eps = composed(x, t)
        x_hat = (x - s * eps) / m
        phys = (x_hat * scale + center).reshape(x.shape[0], -1)[:, flat]
        variance = variances + args.gamma * (s / m) ** 2 * scale2
        log_p = -0.5 * ((values - phys) ** 2 / variance).sum()
        (grad,) = torch.autograd.grad(log_p, x)
        return (eps - s * grad).detach()

    x = torch.randn(args.samples, length, d)
    dt = 1.0 / args.steps
    for step in range(args.steps):
        t = 1.0 - step * dt
        t_next = max(t - dt, 0.0)
        eps = guided(x, t)
        r = mu(t_next) / mu(t)
        x = r * x + (sigma(t_next) - r * sigma(t)) * eps
        for _ in range(args.corrections):
            e = guided(x, t_next)
            flat_e = e.reshape(args.samples, -1)
            delta = args.tau / flat_e.pow(2).mean(dim=1, keepdim=True).clamp_min(1e-6)
            z = torch.randn_like(flat_e)
            x = x - sigma(t_next) * (delta * flat_e + (2 * delta).sqrt() * z).reshape(x.shape)
    phys = x * scale + center
    if args.out:
        np.save(args.out, phys.numpy().astype(np.float32))


def timed(cmd):
    """Runs cmd; returns (wall seconds, CPU seconds of the child: user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def side_by_side(args):
    common = ["--samples", str(args.samples), "--steps", str(args.steps), "--corrections", str(args.corrections)]
    ours = [args.sdalab, "assimilate", "--scenario", args.scenario, "--checkpoint", args.checkpoint, *common,
            "--tau", str(args.tau), "--gamma", str(args.gamma), "--seed", str(args.seed), "--out", "/tmp/anchor-sdalab.npy"]
    theirs = [sys.executable, os.path.abspath(__file__), "loop", "--scenario", args.scenario, "--checkpoint",
              args.checkpoint, *common, "--tau", str(args.tau), "--gamma", str(args.gamma), "--seed", str(args.seed),
              "--threads", str(args.threads), "--out", "/tmp/anchor-torch.npy"]
    rows = []
    for i in range(args.pairs):
        a = timed(ours)
        b = timed(theirs)
        rows.append((a, b))
        print(f"pair {i + 1}: sdalab {a[0]:.1f} s wall {a[1]:.1f} s CPU; PyTorch {b[0]:.1f} s wall {b[1]:.1f} s CPU",
              file=sys.stderr)
    ours_post, theirs_post = np.load("/tmp/anchor-sdalab.npy"), np.load("/tmp/anchor-torch.npy")
    import torch

    evaluations = args.steps * (1 + args.corrections)
    med = lambda xs: statistics.median(xs)
    cpu_ratio = med([a[1] / b[1] for a, b in rows])
    wall_ratio = med([a[0] / b[0] for a, b in rows])
    lines = [
        f"# sdalab against PyTorch {torch.__version__} on the CPU: one guided Lorenz-63 posterior",
        "",
        f"`{' '.join(['python3', 'benches/pytorch_anchor.py', 'side-by-side'] + sys.argv[2:])}`",
        "",
        f"Scenario `{args.scenario}`, checkpoint `{args.checkpoint}` (weights loaded into both), "
        f"{args.samples} members, {args.steps} steps, C = {args.corrections} ({evaluations} guided evaluations: "
        f"forward + input gradient), τ = {args.tau}, γ = {args.gamma}; PyTorch on {args.threads} threads; "
        f"{os.cpu_count()} CPUs. Whole processes, start-up included, run alternately (sdalab first).",
        "",
        "| pair | sdalab wall (s) | sdalab CPU (s) | PyTorch wall (s) | PyTorch CPU (s) | CPU ratio | wall ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, (a, b) in enumerate(rows):
        lines.append(f"| {i + 1} | {a[0]:.2f} | {a[1]:.2f} | {b[0]:.2f} | {b[1]:.2f} | {a[1] / b[1]:.2f} | {a[0] / b[0]:.2f} |")
    lines += [
        "",
        f"**Median ratio sdalab / PyTorch: CPU time {cpu_ratio:.2f}, wall time {wall_ratio:.2f}.**",
        "",
        "Same posterior? Ensemble mean and spread of the last pair's two runs (physical units, averaged over "
        f"states and components): mean {ours_post.mean():.3f} / {theirs_post.mean():.3f}, "
        f"std {ours_post.std(0).mean():.3f} / {theirs_post.std(0).mean():.3f}; "
        f"rms difference of the ensemble means {np.sqrt(((ours_post.mean(0) - theirs_post.mean(0)) ** 2).mean()):.3f} "
        "(the noise streams differ, so the members do).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["loop", "side-by-side"])
    parser.add_argument("--scenario", default="assets/scenarios/lorenz63-lo.json")
    parser.add_argument("--checkpoint", default="checkpoints/lorenz63-k4")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--corrections", type=int, default=1)
    parser.add_argument("--tau", type=float, default=0.25)
    parser.add_argument("--gamma", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--sdalab", default="target/release/sdalab")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.mode == "loop":
        run_loop(args)
    else:
        side_by_side(args)


if __name__ == "__main__":
    main()
