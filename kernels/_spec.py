"""The kernel contract every backend module implements.

A backend module (``numpy_ref``, ``cpu``, ``cuda``) exposes the functions below with
exactly these names and argument orders. The rules:

* **Arrays in, arrays out.** No dicts, no printing. Inputs come first, then the ``out``
  arrays the kernel writes. Functions that write into ``out`` arrays or update arrays in
  place return ``None``; reductions return a Python float.
* **Shapes.** Activations are ``(features, examples)``; ``W`` is ``(n_out, n_in)``; ``b``
  is ``(n_out, 1)``; ``Y`` is ``(1, m)``. Kernels do not validate: the ``fastnn`` layer
  checks shapes, dtypes, finiteness and ranges before calling, so a kernel never sees
  an input that could make it index out of bounds.
* **dtypes.** float64 or float32; all float arguments of one call share a dtype. Dropout
  masks are ``bool``.
* **Activation codes** are the integers :data:`LINEAR`, :data:`RELU`, :data:`SIGMOID`,
  :data:`TANH`.
* **Numbers.** Every backend returns what ``numpy_ref`` returns to 1e-12 relative in
  float64 (1e-5 in float32), except where a function says it is bit-exact. One known
  exception, in NumPy's favour of speed: OpenBLAS's ``np.dot`` skips the products of a
  ``(n, 1) @ (1, 1)`` or ``(1, 1) @ (1, n)`` product when the scalar is exactly 0, so a
  NaN or inf beside that 0 vanishes there, while the compiled kernels propagate it as
  IEEE arithmetic does (NaN * 0 is NaN).

The functions
-------------
``linear_act_forward(A_prev, W, b, act, Z, A)``
    ``Z = W @ A_prev + b`` and ``A = g(Z)``.
``act_backward(dA, Z, A, act, dZ)``
    ``dZ = dA * g'(Z)``: ReLU ``dA * (Z > 0)``; sigmoid ``dA * s * (1 - s)`` with
    ``s = sigmoid(Z)``; tanh ``dA * (1 - A**2)``; linear ``dA``.
``linear_backward(dZ, A_prev, W, scale, l2, dW, db, dA_prev)``
    ``dW = scale * (dZ @ A_prev.T) + l2 * W``; ``db = scale * dZ.sum(axis=1)``;
    ``dA_prev = W.T @ dZ`` unless ``dA_prev`` is None.
``linear_act_backward(dA, Z, A, act, A_prev, W, scale, l2, dZ, dW, db, dA_prev)``
    ``act_backward(dA, Z, A, act, dZ)`` then
    ``linear_backward(dZ, A_prev, W, scale, l2, dW, db, dA_prev)``: a hidden layer's
    whole backward step in one call.
``sigmoid_ce_backward(A, Y, scale, dZ)``
    ``dZ = scale * (A - Y)`` for ``scale != 1`` and ``A - Y`` otherwise.
``cross_entropy(A, Y, mode)`` -> float
    mean of ``-log(A) * Y - log(1 - A) * (1 - Y)`` over the examples, as
    ``(1/m) * sum``. ``mode``: :data:`CE_SUM` (``np.sum``: a saturated prediction gives
    inf or nan), :data:`CE_NANSUM` (``np.nansum``), :data:`CE_CLIPPED` (``A`` clipped
    to ``[eps, 1 - eps]`` with ``eps = 1e-15``, ``1e-7`` in float32; finite for any
    ``A`` in [0, 1]), :data:`CE_LOGITS` (the stable form: the first argument is the
    output layer's pre-activation ``Z``, and the mean is of
    ``max(Z, 0) - Z Y + log1p(exp(-|Z|))``, which equals the cross-entropy of
    ``sigmoid(Z)`` and is finite for every finite ``Z``; ``train_mlp`` passes ``Z_L``).
``sum_squares(x)`` -> float
    ``np.sum(np.square(x))``.
``dropout_forward(A, keep_prob, mode, seed, D, A_out)``
    ``D = U < keep_prob`` and ``A_out = A * D / keep_prob``. ``mode`` :data:`DROPOUT_COMPAT`
    draws ``U`` from NumPy's global legacy stream exactly as ``np.random.rand(*A.shape)``
    would (bit-identical mask, and the global stream continues as if NumPy had drawn);
    ``seed`` is ignored. :data:`DROPOUT_FAST` takes ``U`` from :func:`counter_uniform`
    of ``(seed, flat C-order index)``: the same mask on every backend and thread count,
    and NumPy's global stream is not touched.
``dropout_backward(dA, D, keep_prob, dA_out)``
    ``dA_out = dA * D / keep_prob``.
``sgd_step(p, g, lr)``
    In place: ``p -= lr * g``.
``momentum_step(p, g, v, beta, lr)``
    In place: ``v = beta * v + (1 - beta) * g``; ``p -= lr * v``.
``adam_step(p, g, m, v, t, lr, beta1, beta2, eps)``
    In place: ``m = beta1*m + (1-beta1)*g``; ``v = beta2*v + (1-beta2)*g**2``;
    ``p -= lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)``.
``grad_check_mlp(theta, X, Y, dims, hidden, epsilon, gradapprox)``
    For every entry ``i`` of the flat parameter vector ``theta`` (layout: ``W1`` in C
    order, ``b1``, ``W2``, ``b2``, ...), the two-sided difference
    ``(J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)`` of the cost of the MLP with
    layer sizes ``dims``, hidden activation ``hidden`` and a sigmoid output, cost
    ``cross_entropy(A_L, Y, CE_SUM)``; written into ``gradapprox`` (shape of ``theta``).
    ``theta`` is left unchanged.
``train_mlp(X, Y, dims, hidden, theta, opt_m, opt_v, first_epoch, n_epochs, optimizer,
lrs, beta, beta1, beta2, eps, t, batch_size, shuffle_seed, lambd, keep_prob,
dropout_mode, dropout_seed, cost_mode, grad_form, cost_every, costs)`` -> int
    Runs epochs ``first_epoch .. first_epoch + n_epochs - 1`` of training in place on the
    flat parameter buffer ``theta`` (and the optimizer state ``opt_m``, ``opt_v``, both
    shaped like ``theta``) and returns the step counter ``t`` after the last step.
    Each epoch: full batch when ``batch_size == 0``, else the examples are shuffled as
    ``np.random.seed(shuffle_seed + epoch + 1); np.random.permutation(m)`` and cut into
    batches of ``batch_size`` (last one shorter). Each batch: forward
    (``[LINEAR -> hidden] * (L-1) -> LINEAR -> SIGMOID``; with ``keep_prob < 1``, inverted
    dropout on every hidden layer, masks as the notebook draws them after
    ``np.random.seed(dropout_seed)`` on every forward pass in compat mode, or
    ``counter_uniform(dropout_seed + 1000003 * t + layer)`` in fast mode), cost,
    backward (``grad_form`` :data:`GRAD_DW`: ``dZ_L = A_L - Y``, gradients scaled by 1/m
    at dW and db; :data:`GRAD_DZ`: ``dZ_L = (1/m)(A_L - Y)`` and unscaled products;
    :data:`GRAD_CHAIN`: ``dA_L = -(Y/A_L - (1-Y)/(1-A_L))`` through the sigmoid
    derivative, scaled at dW and db), L2 term ``(lambd/m) W``, then the optimizer step
    (:data:`OPT_GD`, :data:`OPT_MOMENTUM`, :data:`OPT_ADAM`) with learning rate
    ``lrs[epoch]``. The step counter ``t`` increments at the start of every batch (it is
    Adam's bias-correction exponent and the fast-dropout step). The cost of the last
    batch of epoch ``e`` (``cross_entropy`` in ``cost_mode`` plus
    ``(lambd/(2m)) sum W**2``) is recorded when ``e % cost_every == 0``, into
    ``costs[0], costs[1], ...`` in order.
    In compat modes NumPy's global stream is left where the notebook leaves it.
``counter_uniform(seed, n)`` -> ndarray
    ``n`` uniform doubles in [0, 1) from a splitmix64 hash of ``(seed, index)``:
    the fast-dropout generator, shared by all backends.
"""

LINEAR = 0
RELU = 1
SIGMOID = 2
TANH = 3
ACTIVATIONS = {"linear": LINEAR, "relu": RELU, "sigmoid": SIGMOID, "tanh": TANH}

CE_SUM = 0
CE_NANSUM = 1
CE_CLIPPED = 2
CE_LOGITS = 3
CE_MODES = {"sum": CE_SUM, "nansum": CE_NANSUM, "clipped": CE_CLIPPED, "logits": CE_LOGITS}
CE_CLIP_EPS = 1e-15
#: The clipping bound in float32, where 1 - 1e-15 rounds to 1.
CE_CLIP_EPS32 = 1e-7

DROPOUT_COMPAT = 0
DROPOUT_FAST = 1
DROPOUT_MODES = {"compat": DROPOUT_COMPAT, "fast": DROPOUT_FAST}

OPT_GD = 0
OPT_MOMENTUM = 1
OPT_ADAM = 2
OPTIMIZERS = {"gd": OPT_GD, "momentum": OPT_MOMENTUM, "adam": OPT_ADAM}

GRAD_DW = 0
GRAD_DZ = 1
GRAD_CHAIN = 2

#: Every function a backend module must define.
FUNCTIONS = (
    "linear_act_forward",
    "act_backward",
    "linear_backward",
    "linear_act_backward",
    "sigmoid_ce_backward",
    "cross_entropy",
    "sum_squares",
    "dropout_forward",
    "dropout_backward",
    "sgd_step",
    "momentum_step",
    "adam_step",
    "grad_check_mlp",
    "train_mlp",
    "counter_uniform",
)

#: Multiplier that separates the fast-dropout seeds of successive training steps.
FAST_STEP_STRIDE = 1000003
