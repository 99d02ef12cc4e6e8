"""A user-defined layer, registered from outside fnn and property-tested with fnn.testing.

`Scale` multiplies each feature by a learned factor (no bias); `ScaledTanh` is
a·tanh(b·x) with fixed a and b, LeCun's activation. Each is a frozen attrs class plus
three small functions registered on fnn's dispatched protocol. fnn's code is not edited.

Run: python examples/custom_layer.py
"""

import attrs
import numpy as np

import fnn
from fnn.layers import backward, forward, init_layer, out_dim, weight_field
from fnn.testing import check_grads, check_layer


# ---- Scale: a layer with parameters --------------------------------------------------
@attrs.frozen
class Scale:
    """Spec: learn one factor per feature, started at `start`."""

    start: float = 1.0


@fnn.tree.register
@attrs.frozen
class ScaleParams:
    s: np.ndarray = weight_field()  # a weight: fnn's l2 penalty applies to it


@out_dim.register
def _(spec: Scale, in_dim):
    return in_dim


@init_layer.register
def _(spec: Scale, key, in_dim, dtype):
    return ScaleParams(np.full(in_dim, spec.start, dtype))


@forward.register
def _(node: ScaleParams, x, key, train):
    return x * node.s, x  # output, and the residual backward needs


@backward.register
def _(node: ScaleParams, x, g, out, need_input_grad):
    np.sum(g * x, axis=0, out=out.s)  # write d loss / d s into the flat gradient buffer
    return g * node.s if need_input_grad else None


# ---- ScaledTanh: a parameter-free layer (the spec is its own params node) ----------
@fnn.tree.register
@attrs.frozen
class ScaledTanh:
    a: float = fnn.tree.static_field(default=1.7159)
    b: float = fnn.tree.static_field(default=2 / 3)


out_dim.register(ScaledTanh, lambda spec, in_dim: in_dim)
init_layer.register(ScaledTanh, lambda spec, key, in_dim, dtype: spec)


@forward.register
def _(node: ScaledTanh, x, key, train):
    t = np.tanh(node.b * x)
    return node.a * t, t


@backward.register
def _(node: ScaledTanh, t, g, out, need_input_grad):
    return g * (node.a * node.b * (1 - t * t)) if need_input_grad else None


def main() -> None:
    # 1. Property checks: gradients against central differences in float64, over many seeds.
    worst = max(
        max(check_layer(Scale(0.5), in_dim=4, seed=s), check_layer(ScaledTanh(), in_dim=4, seed=s)) for s in range(20)
    )
    print(f"custom layers: largest relative gradient error over 20 seeds = {worst:.2e}")

    # 2. Use them in a network like any built-in layer, and train it.
    spec = fnn.Sequential(
        [Scale(), fnn.Dense(16), ScaledTanh(), fnn.Dense(3), fnn.Activation("softmax")], in_dim=4, dtype=np.float64
    )
    params = fnn.init(fnn.random.key(0), spec)
    x = fnn.random.normal(fnn.random.key(1), (300, 4))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    error = check_grads(params, (x[:20], y[:20]), loss="cross_entropy", l2=0.1)
    print(f"whole network: relative gradient error = {error:.2e}")
    state = fnn.TrainState.create(params, fnn.optim.adam(0.02), key=fnn.random.key(2))
    state, history = fnn.fit(state, (x, y), epochs=30, batch_size=32, loss="cross_entropy", verbose=0)
    print(
        f"trained: loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.3f}, "
        f"accuracy {history['accuracy'][-1]:.3f}; learned scales {np.round(state.params.layers[0].s, 2)}"
    )


if __name__ == "__main__":
    main()
