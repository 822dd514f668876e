#!/usr/bin/env python3
"""PyTorch on the CPU as the speed anchor for `sdalab assimilate`, measured side by side.

The same score network as a bundled checkpoint (the Lorenz-63 MLP or a circular U-Net; shapes and
weights read from its files), the same window composition, SDA guidance and predictor-corrector
loop as `sdalab assimilate`, written in PyTorch. `side-by-side` runs it and `sdalab` alternately (ours, theirs, ours, ...) as child
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
    """The checkpoint's network (residual MLP or circular U-Net), preconditioned as sdalab's
    ScoreNetwork, weights frozen: ε on windows of shape [B, W, d] (d values per state)."""
    config = json.load(open(os.path.join(checkpoint, "config.json")))
    arch = config["architecture"]
    weights = {k: torch.from_numpy(v.copy()) for k, v in load_safetensors(os.path.join(checkpoint, "model.safetensors")).items()}
    freqs = torch.pi * torch.arange(1, arch["frequencies"] + 1, dtype=torch.float32)
    F = torch.nn.functional
    state_shape = config["state_shape"]

    def linear(x, name):
        return F.linear(x, weights[name + ".weight"], weights[name + ".bias"])

    def embedding(t):
        phase = freqs * t
        features = torch.cat([torch.cos(phase), torch.sin(phase)])[None, :]
        return linear(F.silu(linear(features, "time.hidden")), "time.output")

    def mlp(x, t):
        # x: [B, W, d] as rows of W·d features; one diffusion time t for every row.
        b = x.shape[0]
        x = x.reshape(b, -1)
        h = linear(torch.cat([x, embedding(t).expand(b, -1)], dim=1), "input")
        for i in range(arch["depth"]):
            n = F.layer_norm(h, (h.shape[1],), eps=1e-5)
            h = h + linear(F.silu(linear(n, f"blocks.{i}.expand")), f"blocks.{i}.contract")
        return linear(h, "output")

    rank = len(state_shape)

    def conv(x, name):
        # Circular padding as the checkpoint's convolutions use it.
        w = weights[name + ".weight"]
        pad = w.shape[-1] // 2
        if pad:
            x = F.pad(x, (pad, pad) * rank, mode="circular")
        return (F.conv1d if rank == 1 else F.conv2d)(x, w, weights[name + ".bias"])

    def norm(x):
        return F.group_norm(x, 1, eps=1e-5)

    def block(x, emb, name):
        shift = linear(emb, name + ".time").reshape(1, -1, *([1] * rank))
        h = conv(F.silu(norm(x)), name + ".first") + shift
        h = conv(F.silu(h), name + ".second")
        return (conv(x, name + ".skip") if name + ".skip.weight" in weights else x) + h

    def unet(x, t):
        # x: [B, W, d] as [B, W, *state]: the window's states are the channels.
        b, w = x.shape[0], x.shape[1]
        x = x.reshape(b, w, *state_shape)
        emb = embedding(t)
        levels, blocks = len(arch["channels"]), arch["blocks"]
        pool = F.avg_pool1d if rank == 1 else F.avg_pool2d
        h = conv(x, "input")
        skips = []
        for level in range(levels):
            if level > 0:
                h = pool(h, 2)
            for i in range(blocks):
                h = block(h, emb, f"down.{level}.{i}")
            skips.append(h)
        for level in reversed(range(levels)):
            h = h + skips[level]
            for i in range(blocks):
                h = block(h, emb, f"up.{level}.{i}")
            if level > 0:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
        return conv(norm(h), "output").reshape(b, w, -1)

    raw = mlp if arch["kind"] == "mlp" else unet

    def epsilon(x, t):
        m, s = mu(t), sigma(t)
        norm2 = m * m + s * s
        return (s / norm2) * x + (m / math.sqrt(norm2)) * raw(x, t).reshape(x.shape)

    return config, epsilon


def run_loop(args):
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config, epsilon = build_network(torch, args.checkpoint)
    scenario = json.load(open(args.scenario))
    length, window = scenario["length"], config["window"]
    k = window // 2
    d = math.prod(config["state_shape"])
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
        # [S, L, d] -> [S*J, W, d] windows -> ε -> assembled [S, L, d].
        s = x.shape[0]
        windows = x.unfold(1, window, 1).permute(0, 1, 3, 2).reshape(s * count, window, d)
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
    phys = (x * scale + center).reshape(args.samples, length, *config["state_shape"])
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
    system = json.load(open(os.path.join(args.checkpoint, "config.json")))["system"]
    system = {"lorenz63": "Lorenz-63", "lorenz96": "Lorenz-96", "kolmogorov": "Kolmogorov"}.get(system, system)
    med = lambda xs: statistics.median(xs)
    cpu_ratio = med([a[1] / b[1] for a, b in rows])
    wall_ratio = med([a[0] / b[0] for a, b in rows])
    lines = [
        f"# sdalab against PyTorch {torch.__version__} on the CPU: one guided {system} posterior",
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
