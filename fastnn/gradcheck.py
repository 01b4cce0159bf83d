"""Gradient checking of an L-layer network: the two-sided difference for every parameter.

The per-parameter loop is one kernel call (``grad_check_mlp``); on the Numba backend it
is parallel over parameters and incremental (a perturbed ``W[l]`` entry only changes one
row of ``Z[l]``, so the pass restarts there from cached activations).
"""

import warnings
from dataclasses import dataclass

import numpy as np

from . import _facade as f
from . import _validation as v
from ._backend import kernel_module
from .kernels import _spec

__all__ = ["GradCheckResult", "check_gradients"]


@dataclass
class GradCheckResult:
    """What :func:`check_gradients` finds.

    Attributes
    ----------
    difference : float
        ``||grad - gradapprox|| / (||grad|| + ||gradapprox||)``, the notebook's measure.
    grad, gradapprox : ndarray of shape (n_params,)
        The given gradients and the two-sided differences, in ``theta`` order.
    worst_key : str
        Gradient key of the entry with the largest absolute disagreement (``"dW2"``).
    worst_index : tuple of int
        Its index inside that array.
    worst_grad, worst_approx : float
        The two values there.
    """

    difference: float
    grad: np.ndarray
    gradapprox: np.ndarray
    worst_key: str
    worst_index: tuple
    worst_grad: float
    worst_approx: float

    def describe_worst(self):
        """One line naming the worst entry, e.g. ``"dW2[0, 1]: backprop 0.3, numerical 0.15"``."""
        index = ", ".join(str(i) for i in self.worst_index)
        return (f"{self.worst_key}[{index}]: backprop {self.worst_grad!r}, "
                f"numerical {self.worst_approx!r}")


def check_gradients(parameters, gradients, X, Y, epsilon=1e-7, hidden="relu"):
    """Compare ``gradients`` with two-sided differences of the cross-entropy cost.

    Parameters
    ----------
    parameters : dict
        ``W1, b1, ..., WL, bL`` of a ``[LINEAR -> hidden]*(L-1) -> LINEAR -> SIGMOID``
        network.
    gradients : dict
        ``dW1, db1, ...`` to check (other keys are ignored).
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    epsilon : float, default 1e-7
        The perturbation.
    hidden : {"relu", "tanh"}

    Returns
    -------
    GradCheckResult

    Warns
    -----
    UserWarning
        In float32, where a 1e-7 perturbation is below the rounding of the cost.
    """
    epsilon = v.check_positive(epsilon, "epsilon")
    v.check_choice(hidden, "hidden", f.HIDDEN)
    # shapes first; NaN and inf are looked for once, in the flat copies below
    X, Ws, bs = f.net_inputs(X, parameters, finite=False)
    Y = f.labels_for(Y, X)
    v.check_single_output(Ws[-1], "parameters", f"W{len(Ws)}")
    if not isinstance(gradients, dict):
        raise TypeError(f"gradients must be a dict, got {type(gradients).__name__}")
    keys, params, grads = [], [], []
    for l, (W, b) in enumerate(zip(Ws, bs), start=1):
        for key, like in ((f"W{l}", W), (f"b{l}", b)):
            gkey = "d" + key
            if gkey not in gradients:
                raise ValueError(f"gradients is missing key {gkey!r}")
            g = v.as_float_array(gradients[gkey], f"gradients[{gkey!r}]", finite=False)
            if g.size != like.size:
                raise ValueError(f"gradients[{gkey!r}] must have {like.size} entries like "
                                 f"parameters[{key!r}] {like.shape}, got {g.shape}")
            keys.append(key)
            params.append(like)
            grads.append(g)
    # theta's layout (W1 in C order, b1, W2, ...); the gradients in the parameters' dtype
    theta = np.concatenate([p.ravel() for p in params])
    grad = np.concatenate([g.ravel() for g in grads], dtype=X.dtype, casting="same_kind")
    v.check_all_finite(theta, params, [f"parameters[{k!r}]" for k in keys])
    v.check_all_finite(grad, grads, [f"gradients['d{k}']" for k in keys])
    if X.dtype == np.float32:
        warnings.warn("gradient check in float32: the two-sided difference with "
                      f"epsilon={epsilon:g} is dominated by rounding; use float64",
                      UserWarning, stacklevel=2)
    dims = [X.shape[0]] + [W.shape[0] for W in Ws]
    gradapprox = np.empty_like(theta)
    kernel_module().grad_check_mlp(theta, X, Y, np.asarray(dims, dtype=np.int64),
                                   _spec.ACTIVATIONS[hidden], epsilon, gradapprox)
    diff = grad - gradapprox
    difference = _norm(diff) / (_norm(grad) + _norm(gradapprox))
    worst = int(np.argmax(np.abs(diff)))
    offset = 0
    for key, p in zip(keys, params):
        if worst < offset + p.size:
            index = np.unravel_index(worst - offset, p.shape)
            break
        offset += p.size
    return GradCheckResult(float(difference), grad, gradapprox, "d" + key,
                           tuple(int(i) for i in index), float(grad[worst]),
                           float(gradapprox[worst]))


def _norm(x):
    """``np.linalg.norm`` of a vector by its own formula, without its dispatch."""
    return np.sqrt(x.dot(x))
