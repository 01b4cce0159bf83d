"""The L-layer network: a flat parameter buffer with dict views, initialisation, passes.

``[LINEAR -> hidden] * (L-1) -> LINEAR -> SIGMOID``, with ``hidden`` ReLU (the
improving-deep-networks notebooks, the L-layer model) or tanh (the planar model).

The parameters live in one contiguous vector ``theta`` laid out ``W1`` (C order), ``b1``,
``W2``, ``b2``, ...; the dict ``{"W1": ..., "b1": ...}`` holds reshaped views into it, so
an optimizer step or a gradient check over all parameters is one kernel call, and the
dict code of the notebooks keeps working.
"""

import numpy as np

from . import _validation as v
from ._backend import kernel_module
from .kernels import _spec
from .kernels._mlp import layer_views, mlp_backward, mlp_cost, mlp_forward

__all__ = [
    "param_count",
    "ParamBuffer",
    "initialize",
    "INIT_SCHEMES",
    "forward",
    "backward",
    "predict_proba",
]


def param_count(dims):
    """Number of scalars in the weights and biases of a network with layer sizes ``dims``.

    Parameters
    ----------
    dims : sequence of int
        Layer sizes ``[n_x, n_1, ..., n_L]``.

    Returns
    -------
    int
    """
    return sum(dims[l] * dims[l - 1] + dims[l] for l in range(1, len(dims)))


class ParamBuffer:
    """Parameters of an L-layer network in one flat buffer, with dict views.

    Parameters
    ----------
    dims : sequence of int
        Layer sizes ``[n_x, n_1, ..., n_L]``.
    dtype : {numpy.float64, numpy.float32}
        Floating type of the buffer.

    Attributes
    ----------
    theta : ndarray of shape (n_params,)
        The buffer.
    params : dict
        ``{"W1": (n_1, n_x) view, "b1": (n_1, 1) view, ...}`` into ``theta``.
    """

    def __init__(self, dims, dtype=np.float64):
        self.dims = [int(d) for d in dims]
        self.theta = np.zeros(param_count(self.dims), dtype=dtype)
        Ws, bs = layer_views(self.theta, self.dims)
        self.params = {}
        for l, (W, b) in enumerate(zip(Ws, bs), start=1):
            self.params[f"W{l}"] = W
            self.params[f"b{l}"] = b

    @property
    def L(self):
        """Number of layers with weights."""
        return len(self.dims) - 1

    def views(self, theta):
        """Dict views of another vector laid out like ``theta``.

        Parameters
        ----------
        theta : ndarray (n_params,)
            A flat vector with this buffer's layout (a gradient, an optimizer moment).

        Returns
        -------
        dict
            ``{"W1": ..., "b1": ..., "WL": ..., "bL": ...}``, views into ``theta``.
        """
        Ws, bs = layer_views(theta, self.dims)
        out = {}
        for l, (W, b) in enumerate(zip(Ws, bs), start=1):
            out[f"W{l}"] = W
            out[f"b{l}"] = b
        return out

    @classmethod
    def from_params(cls, parameters, name="parameters"):
        """Copy a parameters dict into a new buffer.

        Parameters
        ----------
        parameters : dict
            ``{"W1": ..., "b1": ..., ...}`` with consistent shapes, validated here.
        name : str
            The argument name error messages use.

        Returns
        -------
        ParamBuffer
            A buffer of the parameters' dtype holding a copy of their values.
        """
        Ws, bs = v.layer_arrays(parameters, name)
        dims = [Ws[0].shape[1]] + [W.shape[0] for W in Ws]
        buf = cls(dims, dtype=Ws[0].dtype)
        for l in range(1, len(dims)):
            buf.params[f"W{l}"][...] = Ws[l - 1]
            buf.params[f"b{l}"][...] = bs[l - 1].reshape(-1, 1)
        return buf

    def __repr__(self):
        return (f"ParamBuffer(dims={self.dims}, dtype={self.theta.dtype}, "
                f"n_params={self.theta.size})")


def _scale_he(n_prev):
    return np.sqrt(2.0 / n_prev)


#: Weight initialisations: name -> function of (randn draw, n_prev) giving W.
#: Biases are zero. Each W is drawn with ``np.random.randn(n_l, n_prev)`` in layer order.
INIT_SCHEMES = {
    "zeros": None,
    "random": lambda r, n: r * 10,
    "he": lambda r, n: r * _scale_he(n),
    "xavier": lambda r, n: r / np.sqrt(n),
    "small": lambda r, n: r * 0.01,
}


def initialize(dims, scheme="he", seed=3, dtype=np.float64):
    """New parameters for layer sizes ``dims``, drawn as the notebooks draw them.

    Parameters
    ----------
    dims : sequence of int
        Layer sizes ``[n_x, n_1, ..., n_L]``.
    scheme : {"zeros", "random", "he", "xavier", "small"}
        ``random`` is ``randn * 10``; ``he`` is ``randn * sqrt(2 / n_prev)``;
        ``xavier`` is ``randn / sqrt(n_prev)``; ``small`` is ``randn * 0.01``.
    seed : int or None
        ``np.random.seed(seed)`` is called first (the notebooks' own seeding, which
        moves NumPy's global stream); None draws from the current global state.
    dtype : numpy dtype
        float64 (default) or float32.

    Returns
    -------
    ParamBuffer
    """
    dims = v.check_layer_dims(dims, "layers_dims")
    v.check_choice(scheme, "initialization", INIT_SCHEMES)
    buf = ParamBuffer(dims, dtype=dtype)
    rule = INIT_SCHEMES[scheme]
    if rule is None:
        return buf
    if seed is not None:
        np.random.seed(seed)
    for l in range(1, len(dims)):
        buf.params[f"W{l}"][...] = rule(np.random.randn(dims[l], dims[l - 1]), dims[l - 1])
    return buf


def _prepare(X, Ws, bs):
    """Common float dtype for X and the parameters (copies only what must change)."""
    dtype = np.result_type(X, *Ws, *bs)
    if dtype not in (np.float32, np.float64):
        dtype = np.float64
    cast = [a if a.dtype == dtype else a.astype(dtype) for a in [X, *Ws]]
    bcol = [(b if b.dtype == dtype else b.astype(dtype)).reshape(-1, 1) for b in bs]
    return cast[0], cast[1:], bcol


def forward(X, Ws, bs, hidden="relu", keep_prob=1.0, dropout="compat", dropout_seed=1):
    """Forward pass on the current backend.

    Parameters
    ----------
    X : ndarray (n_x, m)
    Ws, bs : lists of ndarray
        Validated weights and biases.
    hidden : {"relu", "tanh", "sigmoid", "linear"}
        Hidden-layer activation; the output layer is a sigmoid.
    keep_prob : float
        Inverted-dropout keep probability on hidden layers (1 = no dropout).
    dropout : {"compat", "fast"}
        Mask generator; ``compat`` calls ``np.random.seed(dropout_seed)`` first, as the
        notebook does on every forward pass.
    dropout_seed : int

    Returns
    -------
    Zs, As, Ds : lists
        Pre-activations, activations (``As[0] is X``) and masks (None without dropout).
    """
    X, Ws, bs = _prepare(X, Ws, bs)
    return mlp_forward(kernel_module(), X, Ws, bs, _spec.ACTIVATIONS[hidden], keep_prob,
                       _spec.DROPOUT_MODES[dropout], dropout_seed)


def backward(Y, Ws, Zs, As, Ds, hidden="relu", keep_prob=1.0, lambd=0.0, grad_form="dw"):
    """Backward pass on the current backend.

    Parameters
    ----------
    Y : ndarray (1, m)
        Labels.
    Ws : list of ndarray
        The weights :func:`forward` ran with.
    Zs, As, Ds : lists
        :func:`forward`'s pre-activations, activations and dropout masks.
    hidden : {"relu", "tanh", "sigmoid", "linear"}
        Hidden-layer activation, as in the forward pass.
    keep_prob : float
        The forward pass's keep probability (1 = no dropout).
    lambd : float
        L2 regularization strength (adds ``lambd / m * W`` to each ``dW``).
    grad_form : {"dw", "dz", "chain"}
        How the output gradient is written, the three ways the notebooks write it:
        ``"dw"`` (``dZ_L = A_L - Y``, 1/m at dW and db), ``"dz"`` (``dZ_L = (A_L - Y) /
        m``) or ``"chain"`` (``dA_L`` through the sigmoid derivative).

    Returns
    -------
    dWs, dbs : lists of ndarray
        Gradients of the cost with respect to each layer's weights and biases.
    """
    form = {"dw": _spec.GRAD_DW, "dz": _spec.GRAD_DZ, "chain": _spec.GRAD_CHAIN}[grad_form]
    Y = Y.astype(As[-1].dtype, copy=False).reshape(1, -1)
    return mlp_backward(kernel_module(), Y, Ws, Zs, As, Ds, _spec.ACTIVATIONS[hidden],
                        keep_prob, lambd, form)


def cost(AL, Y, Ws=(), mode="sum", lambd=0.0):
    """Mean cross-entropy (``mode`` "sum", "nansum" or "clipped") plus the L2 penalty."""
    Y = Y.astype(AL.dtype, copy=False).reshape(1, -1)
    return mlp_cost(kernel_module(), AL, Y, list(Ws), _spec.CE_MODES[mode], lambd)


def predict_proba(X, Ws, bs, hidden="relu"):
    """Output-layer activation for inputs ``X`` (a forward pass without dropout).

    Parameters
    ----------
    X : ndarray (n_x, m)
    Ws, bs : lists of ndarray
        Weights and biases.
    hidden : {"relu", "tanh", "sigmoid", "linear"}
        Hidden-layer activation; the output layer is a sigmoid.

    Returns
    -------
    ndarray (1, m)
        ``A_L``, the probability of the positive class for each example.
    """
    _, As, _ = forward(X, Ws, bs, hidden)
    return As[-1]
