"""Benchmark: meta-training learned optimizers by antithetic ES (numerics.learned.metatrain), the
full-size runs behind the soft claims ``wichrowska2017.c8.*`` and ``wang2021.s53.*``.

1. C8 (Wichrowska et al. 2017): the five scalar biases of the hierarchical RNN with its RNN weights
   at 0, meta-trained on the 2-D bowl / quadratic ensemble (log meta-objective), 5 seeds; the
   held-out log meta-objective before and after, per seed, against RMSProp tuned over its 7
   learning rates, and SGD, momentum and Adam over theirs, on training tasks of the same family.
2. Wang et al. (2021) Section 5.3 analogue: the per-parameter MLP optimizer (last layer and a log
   step scale meta-trained) on least squares, d = 20, sigma = 2, train-by-train against
   train-by-validation, n = 10 and the control n = 100; held-out test error ||w_T - w*||^2 per
   seed, with GD tuned either way for reference.

Every size is a count (meta-steps, pairs, tasks, inner steps); the wall times are printed beside
the numbers. ``--quick`` runs the ci size (the one the claims and figures use under ci and dev).
``--truncation K`` meta-trains C8 by truncated antithetic ES instead (``MetaTrainConfig.truncation``:
windows of K inner steps of episodes of the unroll length, the same meta-steps, pairs, tasks and
held-out tasks; biased towards the K-step objective, see numerics.learned.metatrain); the held-out
objective is still measured on full unrolls.

Run:  python benchmarks/metatrain.py [--quick] [--only c8|ls] [--truncation K]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from l2l.proofs.papers.wichrowska2017 import experiments as X


def c8(size: str, truncation: int | None) -> None:
    if truncation is None:
        print("== C8 truncation: none (every meta-step unrolls every member from a fresh init)")
    else:
        print(f"== C8 TRUNCATED antithetic ES: windows of {truncation} inner steps of episodes of the unroll length "
              "(the held-out objective is still measured on full unrolls)")
    t0 = time.perf_counter()
    d = X.c8_run(size, truncation)
    wall = time.perf_counter() - t0
    z = d["sizes"]
    print(f"== C8: hierarchical RNN biases by antithetic ES ({size}: {z['meta_steps']} meta-steps, unrolls of "
          f"{z['unroll']}, {z['pairs']} pairs x {z['tasks_per_pair']} tasks, {z['heldout']} held-out tasks)")
    print(f"{'seed':>4} {'before':>9} {'after':>9} {'lower':>6}   theta after (b_inp, b_scl, b_lr, o, l_m)")
    for s, a, b, th in zip(d["seeds"], d["initial"], d["final"], d["theta"]):
        print(f"{s:>4} {a:>9.4f} {b:>9.4f} {str(b < a):>6}   " + ", ".join(f"{v:.3f}" for v in th))
    wins = sum(b < a for a, b in zip(d["initial"], d["final"]))
    print(f"lower after meta-training on {wins} of {len(d['seeds'])} seeds (registered: >= 4 of 5)")
    print("RMSProp held-out objective by learning rate: " + ", ".join(
        f"{lr:.3g}: {v:.3f}" for lr, v in zip(d["rmsprop_lrs"], d["rmsprop_heldout_grid"])))
    print(f"RMSProp tuned on training tasks: lr {d['rmsprop_best_lr']:.3g}, held-out {d['rmsprop_heldout']:.4f}; "
          f"learned mean {np.mean(d['final']):.4f}; learned beats it on "
          f"{sum(b < d['rmsprop_heldout'] for b in d['final'])} of {len(d['seeds'])} seeds")
    print("every baseline tuned on training tasks (lr, held-out): " + ", ".join(
        f"{m} {b['best_lr']:.3g} {b['heldout']:.4f}" for m, b in d["baselines"].items()))
    print(f"wall time {wall:.1f} s\n")


def ls(size: str) -> None:
    for n in (X.LS_N, X.LS_N_LARGE):
        t0 = time.perf_counter()
        d = X.tbt_tbv_run(size, n)
        wall = time.perf_counter() - t0
        z = d["sizes"]
        print(f"== least squares d = {d['d']}, n = {n}, sigma = {d['sigma']:g} ({size}: {z['meta_steps']} meta-steps, "
              f"unrolls of {z['unroll']}, {z['pairs']} pairs x {z['tasks_per_pair']} tasks)")
        print(f"{'seed':>4} {'TbT':>9} {'TbV':>9} {'TbV<TbT':>8} {'s TbT':>7} {'s TbV':>7}")
        for s, a, b, sa, sb in zip(d["seeds"], d["tbt"], d["tbv"], d["step_scale_tbt"], d["step_scale_tbv"]):
            print(f"{s:>4} {a:>9.4f} {b:>9.4f} {str(b < a):>8} {sa:>7.2f} {sb:>7.2f}")
        gaps = [a - b for a, b in zip(d["tbt"], d["tbv"])]
        print(f"TbV below TbT on {sum(g > 0 for g in gaps)} of {len(gaps)} seeds; mean gap TbT - TbV {np.mean(gaps):.4f}; "
              f"test error at initialisation {np.mean(d['initial']):.4f}")
        print(f"GD tuned by TbT: step {d['gd']['tbt']['lr']:.3g}, test error {d['gd']['tbt']['test_error']:.4f}; "
              f"by TbV: step {d['gd']['tbv']['lr']:.3g}, test error {d['gd']['tbv']['test_error']:.4f}")
        print(f"wall time {wall:.1f} s\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the ci size (the claims' and figures' runs)")
    ap.add_argument("--only", choices=("c8", "ls"), help="run one experiment")
    ap.add_argument("--truncation", type=int, default=None, metavar="K",
                    help="meta-train C8 by truncated antithetic ES with windows of K inner steps (default: none)")
    a = ap.parse_args()
    size = "ci" if a.quick else "full"
    t0 = time.perf_counter()
    if a.only in (None, "c8"):
        c8(size, a.truncation)
    if a.only in (None, "ls"):
        ls(size)
    print(f"total wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
