"""How much ravel/unravel cost for a 784-256-128-10 float32 net: the flat view makes them copy nothing.

Run: python benchmarks/ravel.py
"""

import timeit

import numpy as np

import fnn


def main() -> None:
    for sizes in ([784, 256, 128, 10], [4096, 4096, 10]):
        report(fnn.init(fnn.random.key(0), fnn.mlp(sizes)), sizes)


def report(params, sizes) -> None:
    flat, unravel = fnn.tree.ravel(params)
    copy_tree = fnn.tree.map(np.copy, params)  # the same tree, leaves in separate buffers
    rows = [
        ("ravel(params)  (zero-copy flat view)", lambda: fnn.tree.ravel(params)),
        ("unravel(flat)  (views)", lambda: unravel(flat)),
        ("ravel(hand-built tree)  (copies)", lambda: fnn.tree.ravel(copy_tree)),
        (
            "np.concatenate of the leaves  (reference copy)",
            lambda: np.concatenate([leaf.ravel() for leaf in fnn.tree.leaves(params)]),
        ),
    ]
    print(f"mlp {sizes}: {flat.size:,} float32 params ({flat.nbytes / 1e6:.2f} MB)")
    for name, fn in rows:
        n, total = timeit.Timer(fn).autorange()
        best = min(timeit.repeat(fn, number=n, repeat=5)) / n
        print(f"{best * 1e6:10.2f} µs  {name}")


if __name__ == "__main__":
    main()
