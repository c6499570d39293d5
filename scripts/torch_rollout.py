#!/usr/bin/env python3
"""PyTorch reference for `imago bench rollout`: MBPO's model rollouts.

The same work as `imago bench rollout` at the same default shape, written
the way the Python MBPO codes write it, so that both can be timed on one
card in one run (issue 7):

  - the policy is SAC's tanh-squashed Gaussian (obs -> 256 -> 256 -> 2*act,
    ReLU; log-std squashed into [-5, 2] as CleanRL does), sampled with the
    reparameterisation trick;
  - the model is a probabilistic ensemble of E members (obs+act -> 200 x 4
    -> 2*(obs+1), SiLU, learned soft log-variance bounds, standardised
    inputs and targets), evaluated as mbrl-lib's GaussianMLP evaluates
    its ensemble layers, one batched matrix product over the members with
    weights [E, in, out] (here torch.baddbmm, which adds the bias in the
    same call), on ALL E members, after which each row keeps the
    prediction of one elite drawn at random, as jannerm/mbpo's fake_env.py
    step does (model.predict on every member, then
    samples[model_inds, batch_inds]);
  - next state = state + sampled delta, reward = the sampled last target;
    no row terminates (imago's benchmark rule never does), and every
    transition is written into preallocated device buffers.

The weights are random: the time does not depend on them. The figures
printed are those of `imago bench rollout` with the same names and, with
--json, the same keys: rows/s and transitions/s, GFLOP/s counting only the
FLOPs of the one member a row keeps and of the policy (0.395 MFLOP per
transition at the default shape, as imago counts them; the script computes
E times the model's share, reported as flop_per_transition_computed), and
the time per step. Times are from CUDA events around each rollout after one
warm-up rollout; the median of --repeats is reported.

Matrix products run in full FP32 (TF32 off, PyTorch's default for matmul)
unless --tf32 is given, so that the comparison with imago's FP32 kernels is
like for like.

Usage, on a machine with a GPU and PyTorch:

  python3 scripts/torch_rollout.py            # default shape, text
  python3 scripts/torch_rollout.py --json     # one JSON object
"""

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

# The policy's log-std bounds (CleanRL LOG_STD_MIN, LOG_STD_MAX; nn.Policy).
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
# Initial log-variance bounds of the ensemble (jannerm/mbpo BNN;
# nn.MaxLogVarInit, nn.MinLogVarInit).
MAX_LOGVAR, MIN_LOGVAR = 0.5, -10.0


def parse_sizes(text):
    """Comma-separated positive layer sizes, like 256,256."""
    try:
        sizes = [int(f) for f in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(
            f"{text!r}: want positive sizes separated by commas, like 256,256")
    return sizes


def positive_int(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a positive integer")
    return n


def dense_flops(sizes):
    """FLOPs of one row through dense layers: a multiply and an add per weight."""
    return sum(2.0 * a * b for a, b in zip(sizes, sizes[1:]))


def uniform(gen, device, shape, bound):
    return (torch.rand(shape, generator=gen, device=device) * 2 - 1) * bound


class Policy:
    """SAC's tanh-Gaussian policy: an MLP of ReLU layers, weights [out, in]."""

    def __init__(self, sizes, gen, device):
        # PyTorch's default Linear initialisation, U(-1/sqrt(in), 1/sqrt(in)).
        self.layers = [(uniform(gen, device, (o, i), 1 / math.sqrt(i)),
                        uniform(gen, device, (o,), 1 / math.sqrt(i)))
                       for i, o in zip(sizes, sizes[1:])]
        self.act = sizes[-1] // 2

    def sample(self, obs, gen):
        h = obs
        for k, (w, b) in enumerate(self.layers):
            h = F.linear(h, w, b)
            if k + 1 < len(self.layers):
                h = F.relu(h)
        mu, raw = h.split(self.act, dim=1)
        log_std = LOG_STD_MIN + (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(raw) + 1) / 2
        eps = torch.randn(mu.shape, generator=gen, device=mu.device)
        return torch.tanh(mu + log_std.exp() * eps)


class Ensemble:
    """A probabilistic ensemble: weights [E, in, out], biases [E, 1, out]."""

    def __init__(self, sizes, members, gen, device):
        self.layers = [(torch.randn((members, i, o), generator=gen, device=device) / math.sqrt(i),
                        torch.zeros((members, 1, o), device=device))
                       for i, o in zip(sizes, sizes[1:])]
        self.targets = sizes[-1] // 2
        self.max_logvar = torch.full((1, self.targets), MAX_LOGVAR, device=device)
        self.min_logvar = torch.full((1, self.targets), MIN_LOGVAR, device=device)
        # Standardisers, as fitted on data; random here.
        self.in_mean = torch.randn((1, sizes[0]), generator=gen, device=device)
        self.in_std = torch.rand((1, sizes[0]), generator=gen, device=device) + 0.5
        self.out_mean = torch.randn((1, self.targets), generator=gen, device=device) * 0.1
        self.out_std = torch.rand((1, self.targets), generator=gen, device=device) + 0.5

    def forward_all(self, x):
        """Every member on the same rows x [B, in]: [E, B, 2*targets]."""
        h = ((x - self.in_mean) / self.in_std).expand(self.layers[0][0].shape[0], -1, -1)
        for k, (w, b) in enumerate(self.layers):
            h = torch.baddbmm(b, h, w)
            if k + 1 < len(self.layers):
                h = F.silu(h)
        return h

    def gaussian(self, out):
        """Mean and log-variance in the targets' own units from a member's output."""
        mean, raw = out.split(self.targets, dim=1)
        lv = self.max_logvar - F.softplus(self.max_logvar - raw)
        lv = self.min_logvar + F.softplus(lv - self.min_logvar)
        return mean * self.out_std + self.out_mean, lv + 2 * self.out_std.log()


class Rollout:
    """MBPO's model rollouts from a batch of start states into device buffers."""

    def __init__(self, model, policy, obs, act, batch, horizon, elites, device):
        self.model, self.policy = model, policy
        self.obs_dim = obs
        self.elite_ids = torch.arange(elites, device=device)
        n = batch * horizon
        self.buf_obs = torch.empty((n, obs), device=device)
        self.buf_act = torch.empty((n, act), device=device)
        self.buf_rew = torch.empty((n, 1), device=device)
        self.buf_next = torch.empty((n, obs), device=device)
        self.buf_done = torch.zeros((n, 1), device=device)
        self.rows = torch.arange(batch, device=device)

    @torch.no_grad()
    def run(self, start, horizon, gen):
        obs = start
        b = obs.shape[0]
        for step in range(horizon):
            a = self.policy.sample(obs, gen)
            out = self.model.forward_all(torch.cat([obs, a], dim=1))
            pick = torch.randint(0, len(self.elite_ids), (b,), generator=gen, device=obs.device)
            mean, lv = self.model.gaussian(out[self.elite_ids[pick], self.rows])
            y = mean + (lv / 2).exp() * torch.randn(mean.shape, generator=gen, device=obs.device)
            nxt = obs + y[:, :self.obs_dim]
            rows = slice(step * b, (step + 1) * b)
            self.buf_obs[rows] = obs
            self.buf_act[rows] = a
            self.buf_rew[rows] = y[:, self.obs_dim:]
            self.buf_next[rows] = nxt
            obs = nxt
        return b * horizon


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=positive_int, default=100_000, help="start states per rollout")
    p.add_argument("--horizon", type=positive_int, default=5, help="steps per rollout")
    p.add_argument("--ensemble", type=positive_int, default=7, help="ensemble members")
    p.add_argument("--elites", type=positive_int, default=5, help="elite members the rollout draws from")
    p.add_argument("--hidden", type=positive_int, default=200, help="width of the model's hidden layers")
    p.add_argument("--layers", type=positive_int, default=4, help="number of the model's hidden layers")
    p.add_argument("--obs", type=positive_int, default=11, help="observation size")
    p.add_argument("--act", type=positive_int, default=3, help="action size")
    p.add_argument("--policy-hidden", type=parse_sizes, default=[256, 256],
                   help="the policy's hidden layer sizes, comma-separated")
    p.add_argument("--repeats", type=positive_int, default=3, help="timed rollouts after the warm-up")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, start states and rollouts")
    p.add_argument("--device", default="cuda", help="torch device (default cuda)")
    p.add_argument("--tf32", action="store_true", help="let matrix products use TF32 tensor cores")
    p.add_argument("--peak-gflops", type=float, default=0,
                   help="the device's FP32 peak in GFLOP/s, for the fraction of peak")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    o = p.parse_args()
    if o.elites > o.ensemble:
        p.error(f"--elites {o.elites} exceeds --ensemble {o.ensemble}")
    if not (o.peak_gflops >= 0 and math.isfinite(o.peak_gflops)):
        p.error(f"--peak-gflops {o.peak_gflops}: must be a positive number of GFLOP/s")

    device = torch.device(o.device)
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        p.error("--device cuda: PyTorch sees no CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = o.tf32
    torch.backends.cudnn.allow_tf32 = o.tf32
    gen = torch.Generator(device=device)
    gen.manual_seed(o.seed)

    model_layers = [o.obs + o.act] + [o.hidden] * o.layers + [2 * (o.obs + 1)]
    policy_layers = [o.obs] + o.policy_hidden + [2 * o.act]
    model = Ensemble(model_layers, o.ensemble, gen, device)
    policy = Policy(policy_layers, gen, device)
    rollout = Rollout(model, policy, o.obs, o.act, o.batch, o.horizon, o.elites, device)
    start = torch.randn((o.batch, o.obs), generator=gen, device=device)

    def timed():
        if cuda:
            t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            t0.record()
            n = rollout.run(start, o.horizon, gen)
            t1.record()
            torch.cuda.synchronize()
            return n, t0.elapsed_time(t1) / 1e3
        t0 = time.perf_counter()
        n = rollout.run(start, o.horizon, gen)
        return n, time.perf_counter() - t0

    timed()  # warm up: kernel selection, the caching allocator
    seconds, transitions = [], 0
    for _ in range(o.repeats):
        transitions, s = timed()
        seconds.append(s)
    med = sorted(seconds)[len(seconds) // 2] if len(seconds) % 2 else \
        sum(sorted(seconds)[len(seconds) // 2 - 1:len(seconds) // 2 + 1]) / 2

    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    flop = dense_flops(model_layers) + dense_flops(policy_layers)
    res = {
        "engine": "torch",
        "description": f"PyTorch {torch.__version__} on {name}" + (", TF32" if o.tf32 else ""),
        "batch": o.batch, "horizon": o.horizon, "ensemble": o.ensemble, "elites": o.elites,
        "model_layers": model_layers, "policy_layers": policy_layers, "repeats": o.repeats,
        "transitions": transitions,
        "flop_per_transition": flop,
        "flop_per_transition_computed": o.ensemble * dense_flops(model_layers) + dense_flops(policy_layers),
        "seconds": seconds, "median_seconds": med,
        "rows_per_second": o.batch / med,
        "transitions_per_second": transitions / med,
        "gflop_per_second": flop * transitions / med / 1e9,
        "step_seconds": med / o.horizon,
    }
    if o.peak_gflops > 0:
        res["peak_gflop_per_second"] = o.peak_gflops
        res["peak_source"] = "flag"
        res["fraction_of_peak"] = res["gflop_per_second"] / o.peak_gflops
    if o.json:
        print(json.dumps(res))
        return

    def join(v):
        return "→".join(str(x) for x in v)

    peak = "unknown (give --peak-gflops)"
    if o.peak_gflops > 0:
        peak = f"{100 * res['fraction_of_peak']:.1f}% of {o.peak_gflops:.4g} GFLOP/s (--peak-gflops)"
    print(f"""engine           torch ({res['description']})
rollout          {o.batch} start states × {o.horizon} steps, {o.elites} elites of {o.ensemble} members
model            {join(model_layers)} (all {o.ensemble} members per row, one kept)
policy           {join(policy_layers)}
time             {med:.4g} s median of {o.repeats} ({', '.join(f'{s:.3g}' for s in seconds)} s)
rows/s           {res['rows_per_second']:.4g}
transitions/s    {res['transitions_per_second']:.4g}
GFLOP/s          {res['gflop_per_second']:.4g} ({flop / 1e6:.3g} MFLOP per transition; {res['flop_per_transition_computed'] / 1e6:.3g} computed)
of FP32 peak     {peak}
per step         {res['step_seconds'] * 1e3:.4g} ms""")


if __name__ == "__main__":
    main()
