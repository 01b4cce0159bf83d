"""The fused training loop: every epoch of a run inside kernel calls.

Printing and progress reporting stay in Python, between chunks of epochs; each chunk is
one ``train_mlp`` kernel call on the selected backend.
"""

import contextlib
import contextvars
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import _validation as v
from ._backend import kernel_module
from .network import ParamBuffer
from .kernels import _spec

__all__ = ["train", "TrainResult", "recording", "progress_listener"]

_recorders = contextvars.ContextVar("fastnn_training_recorders", default=())
_listeners = contextvars.ContextVar("fastnn_training_progress", default=())


@contextlib.contextmanager
def recording():
    """Collect the :class:`TrainResult` of every training run made inside the block.

    The notebook ``model()`` functions return only parameters; this gives their cost
    curves without changing their signatures.

    Yields
    ------
    list of TrainResult
        Appended to as runs finish.

    Examples
    --------
    >>> from fastnn.training import recording
    >>> with recording() as runs:                       # doctest: +SKIP
    ...     parameters = model(train_X, train_Y, print_cost=False)
    >>> runs[-1].costs[:2]                              # doctest: +SKIP
    """
    runs = []
    token = _recorders.set(_recorders.get() + (runs,))
    try:
        yield runs
    finally:
        _recorders.reset(token)


@contextlib.contextmanager
def progress_listener(callback):
    """Report the progress of every training run made inside the block.

    ``callback(epochs_done, num_epochs)`` is called between chunks of about a fiftieth
    of each run (the notebook ``model()`` functions included); the results are the same
    as without it.

    Parameters
    ----------
    callback : callable

    Examples
    --------
    >>> from fastnn.training import progress_listener
    >>> with progress_listener(lambda done, total: print(done, total)):  # doctest: +SKIP
    ...     parameters = model(train_X, train_Y, print_cost=False)
    """
    token = _listeners.set(_listeners.get() + (callback,))
    try:
        yield
    finally:
        _listeners.reset(token)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    costs : list of float
        The cost recorded every ``cost_every`` epochs (the last batch's cost).
    cost_epochs : list of int
        The epoch of each recorded cost.
    steps : int
        Optimizer steps taken (Adam's ``t``).
    """

    costs: list = field(default_factory=list)
    cost_epochs: list = field(default_factory=list)
    steps: int = 0


def _learning_rates(learning_rate, num_epochs, decay, decay_rate):
    if decay is None:
        return np.full(num_epochs, learning_rate, dtype=np.float64)
    if not callable(decay):
        raise TypeError(f"decay must be a function like update_lr or None, got {decay!r}")
    lrs = np.empty(num_epochs, dtype=np.float64)
    for epoch in range(num_epochs):
        lrs[epoch] = v.check_positive(decay(learning_rate, epoch, decay_rate),
                                      f"decay(learning_rate, {epoch}, decay_rate)")
    return lrs


def train(X, Y, buffer, *, learning_rate, num_epochs, hidden="relu", optimizer="gd",
          beta=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8, batch_size=None,
          shuffle_seed=0, decay=None, decay_rate=1.0, lambd=0.0, keep_prob=1.0,
          dropout="compat", dropout_seed=1, cost_mode="sum", grad_form="dw",
          cost_every=100, print_every=None, print_format="Cost after iteration {}: {}",
          progress=None):
    """Train an L-layer network in place with the fused loop of the current backend.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, validated, with the buffer's dtype.
    Y : ndarray (1, m)
        Labels (0/1 or real), validated.
    buffer : ParamBuffer
        Initial parameters; trained in place.
    learning_rate : float
        Learning rate (> 0), or the initial one with ``decay``.
    num_epochs : int
        Epochs (iterations, when full batch).
    hidden : {"relu", "tanh"}
        Hidden activation.
    optimizer : {"gd", "momentum", "adam"}
    beta, beta1, beta2, epsilon : float
        Momentum and Adam hyper-parameters.
    batch_size : int or None
        None for full batch; else mini-batches reshuffled every epoch with
        ``np.random.seed(shuffle_seed + epoch + 1)``.
    decay : callable or None
        ``decay(learning_rate, epoch, decay_rate)`` gives the rate used in ``epoch``.
    lambd : float
        L2 regularisation strength.
    keep_prob : float
        Dropout keep probability on hidden layers.
    dropout : {"compat", "fast"}
        Dropout mask generator.
    cost_mode : {"sum", "nansum", "clipped", "logits"}
        How the recorded cost is computed (``"logits"``: from the output layer's
        pre-activation, finite for every finite input). Under
        ``fastnn.options(numerics="stable")`` it is always ``"logits"``. A run whose
        recorded cost is not finite warns once (``RuntimeWarning``).
    grad_form : {"dw", "dz", "chain"}
        How the notebook writes the output-layer gradient (see :func:`network.backward`).
    cost_every : int
        Record the cost every this many epochs.
    print_every : int or None
        Print ``print_format.format(epoch, cost)`` every this many epochs (a multiple of
        ``cost_every``).
    progress : callable or None
        Called as ``progress(epochs_done, num_epochs)`` between chunks.

    Returns
    -------
    TrainResult
    """
    learning_rate = v.check_positive(learning_rate, "learning_rate")
    num_epochs = v.check_int(num_epochs, "num_epochs", low=0)
    opt = v.check_choice(optimizer, "optimizer", _spec.OPTIMIZERS)
    hidden = v.check_choice(hidden, "hidden", ("relu", "tanh"))
    beta = v.check_beta(beta, "beta")
    beta1 = v.check_beta(beta1, "beta1")
    beta2 = v.check_beta(beta2, "beta2")
    epsilon = v.check_positive(epsilon, "epsilon")
    if batch_size is not None:
        batch_size = v.check_int(batch_size, "batch_size", low=1)
    shuffle_seed = v.check_int(shuffle_seed, "shuffle_seed", low=0)
    lambd = v.check_real(lambd, "lambd", low=0.0)
    keep_prob = v.check_keep_prob(keep_prob)
    v.check_choice(dropout, "dropout", _spec.DROPOUT_MODES)
    dropout_seed = v.check_int(dropout_seed, "dropout_seed", low=0)
    v.check_choice(cost_mode, "cost_mode", _spec.CE_MODES)
    if v.get_options()["numerics"] == "stable":
        cost_mode = "logits"
    forms = {"dw": _spec.GRAD_DW, "dz": _spec.GRAD_DZ, "chain": _spec.GRAD_CHAIN}
    v.check_choice(grad_form, "grad_form", forms)
    cost_every = v.check_int(cost_every, "cost_every", low=1)
    if print_every is not None:
        print_every = v.check_int(print_every, "print_every", low=1)
    if keep_prob < 1.0 and hidden != "relu":
        raise ValueError("keep_prob < 1 (dropout) needs hidden='relu'; "
                         f"got hidden={hidden!r}")
    if not isinstance(buffer, ParamBuffer):
        raise TypeError(f"buffer must be a ParamBuffer, got {type(buffer).__name__}")
    if buffer.theta.dtype not in (np.float32, np.float64):
        raise TypeError("buffer must hold float32 or float64 parameters, got "
                        f"{buffer.theta.dtype}")
    X = v.as_data(X, "X")
    Y = v.as_labels(Y, X.shape[1], "Y")
    if X.shape[0] != buffer.dims[0]:
        raise ValueError(f"X must have {buffer.dims[0]} rows (the network's input "
                         f"size), got shape {X.shape}")
    K = kernel_module()
    dims = np.asarray(buffer.dims, dtype=np.int64)
    theta = buffer.theta
    dtype = theta.dtype
    X = np.ascontiguousarray(X, dtype=dtype)
    Y = np.ascontiguousarray(Y, dtype=dtype).reshape(1, X.shape[1])
    hid = _spec.ACTIVATIONS[hidden]
    lrs = _learning_rates(learning_rate, num_epochs, decay, decay_rate)
    opt_m = np.zeros_like(theta)
    opt_v = np.zeros_like(theta)
    if print_every is not None and print_every % cost_every:
        raise ValueError(f"print_every ({print_every}) must be a multiple of "
                         f"cost_every ({cost_every})")
    chunk = num_epochs if print_every is None else print_every
    listeners = _listeners.get() + ((progress,) if progress is not None else ())
    if listeners:
        chunk = min(chunk, max(cost_every, -(-num_epochs // 50) // cost_every * cost_every))
    result = TrainResult()
    t = 0
    epoch = 0
    while epoch < num_epochs:
        n = min(chunk, num_epochs - epoch)
        recorded = [e for e in range(epoch, epoch + n) if e % cost_every == 0]
        costs = np.zeros(max(len(recorded), 1), dtype=np.float64)
        t = K.train_mlp(
            X, Y, dims, hid, theta, opt_m, opt_v, epoch, n, _spec.OPTIMIZERS[opt], lrs,
            float(beta), float(beta1), float(beta2), float(epsilon), int(t),
            0 if batch_size is None else int(batch_size), int(shuffle_seed),
            float(lambd), float(keep_prob), _spec.DROPOUT_MODES[dropout],
            int(dropout_seed), _spec.CE_MODES[cost_mode], forms[grad_form],
            int(cost_every), costs)
        for e, c in zip(recorded, costs):
            result.costs.append(float(c))
            result.cost_epochs.append(e)
            if print_every is not None and e % print_every == 0:
                print(print_format.format(e, c))
        epoch += n
        for report in listeners:
            report(epoch, num_epochs)
    result.steps = int(t)
    bad = [e for e, c in zip(result.cost_epochs, result.costs) if not math.isfinite(c)]
    if bad:
        # one warning per run, on every backend (NumPy's own would come once per line)
        warnings.warn(f"the cost is not finite (inf or nan) at epoch {bad[0]}"
                      f"{f' and {len(bad) - 1} later records' if len(bad) > 1 else ''}: "
                      "a sigmoid output saturated at 0 or 1, as in the notebook; "
                      "fastnn.options(numerics='stable') records a finite cost from the "
                      "logits (training is unchanged)", RuntimeWarning, stacklevel=2)
    for runs in _recorders.get():
        runs.append(result)
    return result
