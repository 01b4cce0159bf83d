"""asv suites: every kernel family x backend x size x dtype, time and peak memory.

Parameters of every suite:

* ``backend``: ``numpy`` (the notebooks' baseline), ``numba``, ``cuda``. A backend that
  :func:`fastnn.kernels.get` cannot load here is skipped (``setup`` raises
  ``NotImplementedError``).
* ``size``: ``notebook`` (the course's shapes), ``medium``, ``large`` (see
  :func:`fastnn.bench.case_info` for the exact shapes; ``large`` is kept to tens of
  milliseconds per NumPy call, about a second for the 64-wide gradient check).
* ``dtype``: ``float32``, ``float64``.

``setup`` builds the inputs and calls the kernel once, so Numba compilation (or loading
its on-disk cache) is never timed. Cases are memoised per process: asv re-runs ``setup``
between timed calls, and that must stay cheap. Kernels that update their inputs in place
(the optimizer steps) keep updating the same arrays; the training loops restart from the
same parameters on every call.
"""

from fastnn import bench as _bench

_BACKENDS = ["numpy", "numba", "cuda"]
_built = {}


def _ready(key, make):
    """The callable ``make()`` returns, called once here (compilation or the cache load is
    never timed) and kept for the process; a backend that cannot run here
    (``NotImplementedError``, asv's skip) raises it again on every later ``setup``."""
    if key not in _built:
        try:
            fn = make()
            fn()
            _built[key] = fn
        except NotImplementedError as exc:
            _built[key] = exc
    got = _built[key]
    if isinstance(got, NotImplementedError):
        raise NotImplementedError(str(got))
    return got


class _Suite:
    family = None
    params = [_BACKENDS, list(_bench.SIZES), list(_bench.DTYPES)]  # noqa: RUF012
    param_names = ["backend", "size", "dtype"]  # noqa: RUF012
    timeout = 300
    # One round, 2 to 10 samples, at most ~3 s of samples per parameter combination:
    # the whole suite (11 suites x 12 combinations x time + peakmem) then runs in
    # about 15 minutes on 2 cores. For more robust numbers: asv run -a rounds=2.
    rounds = 1
    repeat = (2, 10, 3.0)

    def setup(self, backend, size, dtype):
        self.fn = _ready((self.family, size, dtype, backend),
                         lambda: _bench.build_case(self.family, size, dtype, backend).fn)

    def time_kernel(self, backend, size, dtype):
        self.fn()

    def peakmem_kernel(self, backend, size, dtype):
        self.fn()


class LinearReluForward(_Suite):
    """``linear_act_forward`` with ReLU: (20x2)@(2x211), 256^3, (1024x4096)@(4096x1024)."""

    family = "linear_relu_fwd"


class LinearReluBackward(_Suite):
    """``linear_act_backward`` (ReLU, with ``dA_prev``): (20x2)@(2x211), 256^3,
    (1024x4096)@(4096x1024)."""

    family = "linear_relu_bwd"


class DropoutCompat(_Suite):
    """``dropout_forward`` in compat mode (NumPy's legacy stream): 20x211, 1e6, 1e7."""

    family = "dropout_compat"


class DropoutFast(_Suite):
    """``dropout_forward`` in fast mode (counter hash): 20x211, 1e6, 1e7."""

    family = "dropout_fast"


class SGDStep(_Suite):
    """``sgd_step`` in place on 1e3, 1e6, 1e7 parameters."""

    family = "sgd"


class MomentumStep(_Suite):
    """``momentum_step`` in place on 1e3, 1e6, 1e7 parameters."""

    family = "momentum"


class AdamStep(_Suite):
    """``adam_step`` in place on 1e3, 1e6, 1e7 parameters."""

    family = "adam"


class GradCheck(_Suite):
    """``grad_check_mlp``: course 4-5-3-1 (m=3), 16-32-16-1 (m=32), 64-64-64-1 (m=256)."""

    family = "grad_check"


class TrainRegularization(_Suite):
    """Full-batch GD [2, 20, 3, 1], lr 0.3, GRAD_DW: 211, 2110, 21100 examples."""

    family = "train_regularization"


class TrainOptimization(_Suite):
    """Mini-batch Adam [2, 5, 2, 1], batch 64, GRAD_DZ: 300, 3000, 30000 examples."""

    family = "train_optimization"


class TrainInitialization(_Suite):
    """Full-batch GD [2, 10, 5, 1], lr 0.01, GRAD_DZ: 300, 3000, 30000 examples."""

    family = "train_initialization"


class ModelFacade(_Suite):
    """The notebooks' ``model()`` calls through the façade (:data:`fastnn.bench.MODELS`:
    regularization GD, initialization GD, optimization Adam; 1000 iterations per call)."""

    params = [_BACKENDS, list(_bench.MODELS)]  # noqa: RUF012
    param_names = ["backend", "model"]  # noqa: RUF012

    def setup(self, backend, model):
        self.fn = _ready(("model", model, backend),
                         lambda: _bench.build_model(model, backend))

    def time_kernel(self, backend, model):
        self.fn()

    def peakmem_kernel(self, backend, model):
        self.fn()
