"""The NumPy reference backend against slow, obviously correct loops.

``numpy_ref`` is the oracle every other backend is compared with, so it is checked here
against independent ``naive_*`` implementations written from the math of
``kernels/_spec.py``: Python loops over scalars (``float`` arithmetic), no vectorised
NumPy beyond allocating the result arrays. Shapes are small and random; float64 is
compared to 1e-12 relative and float32 to 1e-5 relative (with a matching absolute
tolerance for entries that cancel to near zero), as the contract asks of backends.
"""

import math

import numpy as np
import pytest

from fastnn import kernels
from fastnn.kernels import _spec as S

K = kernels.get("numpy")

DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
SEEDS = [0, 1, 2]
ACTS = [S.LINEAR, S.RELU, S.SIGMOID, S.TANH]
ACT_IDS = ["linear", "relu", "sigmoid", "tanh"]


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

def assert_close(actual, expected, dtype, scale=1.0):
    """``actual`` equals ``expected`` to the dtype's relative tolerance.

    The absolute tolerance ``rtol * scale`` covers entries that are sums of O(scale)
    terms cancelling to near zero, where a relative comparison means nothing.
    """
    rtol = RTOL[np.dtype(dtype).type]
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64),
                               rtol=rtol, atol=rtol * scale)


def rand(rng, shape, dtype, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape).astype(dtype)


def shapes(rng):
    """Random small (n_out, n_in, m)."""
    return tuple(int(x) for x in rng.integers(1, 6, size=3))


# --------------------------------------------------------------------------------------
# Naive implementations, written from the math in _spec.py
# --------------------------------------------------------------------------------------

def naive_g(z, act):
    """The activation of one scalar."""
    z = float(z)
    if act == S.LINEAR:
        return z
    if act == S.RELU:
        return z if z > 0.0 else 0.0
    if act == S.SIGMOID:
        return 1.0 / (1.0 + math.exp(-z))
    if act == S.TANH:
        return math.tanh(z)
    raise AssertionError(act)


def naive_linear_act_forward(A_prev, W, b, act):
    n_out, n_in = W.shape
    m = A_prev.shape[1]
    Z = np.zeros((n_out, m))
    A = np.zeros((n_out, m))
    for i in range(n_out):
        for j in range(m):
            s = float(b[i, 0])
            for k in range(n_in):
                s += float(W[i, k]) * float(A_prev[k, j])
            Z[i, j] = s
            A[i, j] = naive_g(s, act)
    return Z, A


def naive_act_backward(dA, Z, A, act):
    dZ = np.zeros(dA.shape)
    for i in range(dA.shape[0]):
        for j in range(dA.shape[1]):
            d, z, a = float(dA[i, j]), float(Z[i, j]), float(A[i, j])
            if act == S.LINEAR:
                dZ[i, j] = d
            elif act == S.RELU:
                dZ[i, j] = d if z > 0.0 else 0.0
            elif act == S.SIGMOID:
                s = 1.0 / (1.0 + math.exp(-z))
                dZ[i, j] = d * s * (1.0 - s)
            elif act == S.TANH:
                dZ[i, j] = d * (1.0 - a * a)
    return dZ


def naive_linear_backward(dZ, A_prev, W, scale, l2):
    n_out, n_in = W.shape
    m = dZ.shape[1]
    dW = np.zeros((n_out, n_in))
    db = np.zeros((n_out, 1))
    dA_prev = np.zeros((n_in, m))
    for i in range(n_out):
        for k in range(n_in):
            s = 0.0
            for j in range(m):
                s += float(dZ[i, j]) * float(A_prev[k, j])
            dW[i, k] = scale * s + l2 * float(W[i, k])
        db[i, 0] = scale * sum(float(dZ[i, j]) for j in range(m))
    for k in range(n_in):
        for j in range(m):
            dA_prev[k, j] = sum(float(W[i, k]) * float(dZ[i, j]) for i in range(n_out))
    return dW, db, dA_prev


def naive_sigmoid_ce_backward(A, Y, scale):
    dZ = np.zeros(A.shape)
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            dZ[i, j] = scale * (float(A[i, j]) - float(Y[0, j]))
    return dZ


def _neg_log(x):
    """-log(x) with -log(0) = +inf (what NumPy gives, without the warning)."""
    return math.inf if x <= 0.0 else -math.log(x)


def naive_cross_entropy(A, Y, mode):
    """(1/m) sum of -log(a) y - log(1 - a) (1 - y); Python floats, so inf * 0 is nan."""
    m = Y.shape[1]
    terms = []
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            a, y = float(A[i, j]), float(Y[0, j])
            if mode == S.CE_CLIPPED:
                a = min(max(a, S.CE_CLIP_EPS), 1.0 - S.CE_CLIP_EPS)
            terms.append(_neg_log(a) * y + _neg_log(1.0 - a) * (1.0 - y))
    if mode == S.CE_NANSUM:
        terms = [t for t in terms if not math.isnan(t)]
    total = 0.0
    for t in terms:
        total += t
    return total / m


def naive_sum_squares(x):
    total = 0.0
    for value in np.asarray(x).ravel():
        total += float(value) * float(value)
    return total


_MASK64 = (1 << 64) - 1


def _naive_splitmix64(x):
    """The splitmix64 finaliser (Steele, Lea and Flood), on Python ints mod 2**64."""
    x &= _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def naive_counter_uniform(seed, n):
    """Element i: splitmix64(key + (i + 1) * golden) >> 11, times 2**-53, with
    key = splitmix64(seed + golden)."""
    golden = 0x9E3779B97F4A7C15
    key = _naive_splitmix64(seed + golden)
    return np.array([(_naive_splitmix64(key + (i + 1) * golden) >> 11) * 2.0 ** -53
                     for i in range(n)])


def naive_dropout_apply(A, D, keep_prob):
    out = np.zeros(A.shape)
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            out[i, j] = float(A[i, j]) * (1.0 if D[i, j] else 0.0) / keep_prob
    return out


def naive_sgd(p, g, lr):
    p, g = np.array(p, dtype=np.float64), np.asarray(g, dtype=np.float64)
    for idx in np.ndindex(p.shape):
        p[idx] = p[idx] - lr * g[idx]
    return p


def naive_momentum(p, g, v, beta, lr):
    p = np.array(p, dtype=np.float64)
    v = np.array(v, dtype=np.float64)
    for idx in np.ndindex(p.shape):
        v[idx] = beta * v[idx] + (1.0 - beta) * float(g[idx])
        p[idx] = p[idx] - lr * v[idx]
    return p, v


def naive_adam(p, g, m, v, t, lr, beta1, beta2, eps):
    p = np.array(p, dtype=np.float64)
    m = np.array(m, dtype=np.float64)
    v = np.array(v, dtype=np.float64)
    for idx in np.ndindex(p.shape):
        gi = float(g[idx])
        m[idx] = beta1 * m[idx] + (1.0 - beta1) * gi
        v[idx] = beta2 * v[idx] + (1.0 - beta2) * gi * gi
        m_hat = m[idx] / (1.0 - beta1 ** t)
        v_hat = v[idx] / (1.0 - beta2 ** t)
        p[idx] = p[idx] - lr * m_hat / (math.sqrt(v_hat) + eps)
    return p, m, v


# --- whole networks -------------------------------------------------------------------

def naive_unpack(theta, dims):
    """Lists of float64 copies (Ws, bs) of the layout W1 (C order), b1, W2, b2, ..."""
    Ws, bs, k = [], [], 0
    for l in range(1, len(dims)):
        n_out, n_in = dims[l], dims[l - 1]
        W = np.zeros((n_out, n_in))
        for i in range(n_out):
            for j in range(n_in):
                W[i, j] = float(theta[k])
                k += 1
        b = np.zeros((n_out, 1))
        for i in range(n_out):
            b[i, 0] = float(theta[k])
            k += 1
        Ws.append(W)
        bs.append(b)
    assert k == len(theta)
    return Ws, bs


def naive_pack(Ws, bs):
    out = []
    for W, b in zip(Ws, bs):
        out += [float(x) for x in W.ravel()] + [float(x) for x in b.ravel()]
    return np.array(out)


def naive_forward(X, Ws, bs, hidden, masks=None, keep_prob=1.0):
    """Zs, As (As[0] = X), with inverted dropout masks[l] on hidden layer l."""
    L = len(Ws)
    Zs, As = [], [np.asarray(X, dtype=np.float64)]
    for l in range(L):
        act = S.SIGMOID if l == L - 1 else hidden
        Z, A = naive_linear_act_forward(As[-1], Ws[l], bs[l], act)
        if masks is not None and l < L - 1:
            A = naive_dropout_apply(A, masks[l], keep_prob)
        Zs.append(Z)
        As.append(A)
    return Zs, As


def naive_cost(AL, Y, Ws, mode, lambd):
    m = Y.shape[1]
    cost = naive_cross_entropy(AL, Y, mode)
    if lambd:
        cost += lambd / (2.0 * m) * sum(naive_sum_squares(W) for W in Ws)
    return cost


def naive_backward(Y, Ws, Zs, As, hidden, lambd, masks=None, keep_prob=1.0):
    """Gradients of the mean cross-entropy (+ L2): dZ_L = A_L - Y, 1/m at dW and db."""
    L = len(Ws)
    m = Y.shape[1]
    dWs, dbs = [None] * L, [None] * L
    dZ = naive_sigmoid_ce_backward(As[-1], Y, 1.0)
    for l in range(L - 1, -1, -1):
        dW, db, dA_prev = naive_linear_backward(dZ, As[l], Ws[l], 1.0 / m, lambd / m)
        dWs[l], dbs[l] = dW, db
        if l > 0:
            if masks is not None:
                dA_prev = naive_dropout_apply(dA_prev, masks[l - 1], keep_prob)
            dZ = naive_act_backward(dA_prev, Zs[l - 1], As[l], hidden)
    return dWs, dbs


def naive_masks(dims, mb, keep_prob, mode, dropout_seed, t, rs=None):
    """Hidden-layer masks of one forward pass: compat draws rand from a RandomState
    seeded with dropout_seed (the notebook reseeds every pass); fast takes
    counter_uniform(dropout_seed + 1000003 t + l) for the l-th (0-based) layer."""
    if keep_prob >= 1.0:
        return None, rs
    masks = []
    if mode == S.DROPOUT_COMPAT:
        rs = np.random.RandomState(dropout_seed)
    for l in range(1, len(dims) - 1):
        if mode == S.DROPOUT_COMPAT:
            U = rs.rand(dims[l], mb)
        else:
            U = naive_counter_uniform(dropout_seed + 1000003 * t + (l - 1),
                                      dims[l] * mb).reshape(dims[l], mb)
        masks.append(U < keep_prob)
    return masks, rs


def naive_train(X, Y, dims, hidden, theta, opt_m, opt_v, first_epoch, n_epochs,
                optimizer, lrs, beta, beta1, beta2, eps, t, batch_size, shuffle_seed,
                lambd, keep_prob, dropout_mode, dropout_seed, cost_mode, cost_every):
    """The training loop of the contract, in float64 loops.

    Returns (theta, opt_m, opt_v, t, costs, last RandomState used in compat mode or
    None).
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    Ws, bs = naive_unpack(theta, dims)
    mWs, mbs = naive_unpack(opt_m, dims)
    vWs, vbs = naive_unpack(opt_v, dims)
    m = X.shape[1]
    costs = []
    rs = None
    for epoch in range(first_epoch, first_epoch + n_epochs):
        if batch_size == 0:
            batches = [(X, Y)]
        else:
            rs = np.random.RandomState(shuffle_seed + epoch + 1)
            perm = rs.permutation(m)
            batches = []
            for start in range(0, m, batch_size):
                cols = [int(c) for c in perm[start:start + batch_size]]
                batches.append((X[:, cols], Y[:, cols]))
        lr = float(lrs[epoch])
        for Xb, Yb in batches:
            t += 1
            masks, rs_drop = naive_masks(dims, Xb.shape[1], keep_prob, dropout_mode,
                                         dropout_seed, t)
            if rs_drop is not None:
                rs = rs_drop
            Zs, As = naive_forward(Xb, Ws, bs, hidden, masks, keep_prob)
            cost = naive_cost(As[-1], Yb, Ws, cost_mode, lambd)
            dWs, dbs = naive_backward(Yb, Ws, Zs, As, hidden, lambd, masks, keep_prob)
            for l in range(len(Ws)):
                for P, G, M, V in ((Ws, dWs, mWs, vWs), (bs, dbs, mbs, vbs)):
                    if optimizer == S.OPT_ADAM:
                        P[l], M[l], V[l] = naive_adam(P[l], G[l], M[l], V[l], t, lr,
                                                      beta1, beta2, eps)
                    elif optimizer == S.OPT_MOMENTUM:
                        P[l], M[l] = naive_momentum(P[l], G[l], M[l], beta, lr)
                    else:
                        P[l] = naive_sgd(P[l], G[l], lr)
        if epoch % cost_every == 0:
            costs.append(cost)
    return (naive_pack(Ws, bs), naive_pack(mWs, mbs), naive_pack(vWs, vbs), t, costs,
            rs)


def same_rng_state(rs):
    """NumPy's global legacy stream is exactly where RandomState ``rs`` is."""
    g, r = np.random.get_state(), rs.get_state()
    return g[0] == r[0] and np.array_equal(g[1], r[1]) and g[2:] == r[2:]


# --------------------------------------------------------------------------------------
# The module implements the whole contract
# --------------------------------------------------------------------------------------

def test_numpy_backend_implements_every_function():
    for name in S.FUNCTIONS:
        assert callable(getattr(K, name)), name


# --------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("act", ACTS, ids=ACT_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_act_forward(dtype, act, seed):
    rng = np.random.default_rng(seed)
    n_out, n_in, m = shapes(rng)
    A_prev = rand(rng, (n_in, m), dtype)
    W = rand(rng, (n_out, n_in), dtype)
    b = rand(rng, (n_out, 1), dtype)
    Z = np.full((n_out, m), np.nan, dtype=dtype)
    A = np.full((n_out, m), np.nan, dtype=dtype)
    assert K.linear_act_forward(A_prev, W, b, act, Z, A) is None
    Z_ref, A_ref = naive_linear_act_forward(A_prev, W, b, act)
    scale = 4.0 * (n_in + 1)  # |W| |A_prev| summed: a bound on the cancelled terms
    assert Z.dtype == dtype and A.dtype == dtype
    assert_close(Z, Z_ref, dtype, scale)
    assert_close(A, A_ref, dtype, scale)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_act_forward_relu_at_zero_and_saturation(dtype):
    # Z exactly 0 -> relu 0; large |Z| -> sigmoid 0/1 and tanh -1/1 without nan
    A_prev = np.array([[0.0, 30.0, -30.0]], dtype=dtype)
    W = np.array([[1.0]], dtype=dtype)
    b = np.zeros((1, 1), dtype=dtype)
    for act in ACTS:
        Z = np.empty((1, 3), dtype=dtype)
        A = np.empty((1, 3), dtype=dtype)
        K.linear_act_forward(A_prev, W, b, act, Z, A)
        _, A_ref = naive_linear_act_forward(A_prev, W, b, act)
        assert np.isfinite(A).all()
        assert_close(A, A_ref, dtype)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("act", ACTS, ids=ACT_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_act_backward(dtype, act, seed):
    rng = np.random.default_rng(seed)
    n, _, m = shapes(rng)
    dA = rand(rng, (n, m), dtype)
    Z = rand(rng, (n, m), dtype, -3, 3)
    Z.flat[0] = 0.0  # the ReLU kink: derivative taken as 0 there (Z > 0)
    A = np.empty_like(Z)
    for idx in np.ndindex(Z.shape):
        A[idx] = naive_g(Z[idx], act)
    dZ = np.full((n, m), np.nan, dtype=dtype)
    assert K.act_backward(dA, Z, A, act, dZ) is None
    assert dZ.dtype == dtype
    assert_close(dZ, naive_act_backward(dA, Z, A, act), dtype)
    if act == S.RELU:
        assert dZ.flat[0] == 0.0


def test_act_backward_tanh_uses_A_not_Z():
    # the contract says tanh' is 1 - A**2 from the A passed in (not recomputed from Z)
    dA = np.ones((1, 2))
    Z = np.zeros((1, 2))
    A = np.array([[0.5, -0.25]])
    dZ = np.empty((1, 2))
    K.act_backward(dA, Z, A, S.TANH, dZ)
    np.testing.assert_allclose(dZ, [[0.75, 0.9375]], rtol=1e-15)


@pytest.mark.parametrize("with_dA_prev", [True, False], ids=["dA_prev", "no_dA_prev"])
@pytest.mark.parametrize("scale,l2", [(1.0, 0.0), (0.2, 0.0), (1.0, 0.7), (0.25, 0.3)])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_backward(dtype, seed, scale, l2, with_dA_prev):
    rng = np.random.default_rng(seed)
    n_out, n_in, m = shapes(rng)
    dZ = rand(rng, (n_out, m), dtype)
    A_prev = rand(rng, (n_in, m), dtype)
    W = rand(rng, (n_out, n_in), dtype)
    W_before = W.copy()
    dW = np.full((n_out, n_in), np.nan, dtype=dtype)
    db = np.full((n_out, 1), np.nan, dtype=dtype)
    dA_prev = np.full((n_in, m), np.nan, dtype=dtype) if with_dA_prev else None
    assert K.linear_backward(dZ, A_prev, W, scale, l2, dW, db, dA_prev) is None
    dW_ref, db_ref, dA_ref = naive_linear_backward(dZ, A_prev, W, scale, l2)
    bound = 4.0 * max(m, n_out) + 2.0
    assert_close(dW, dW_ref, dtype, bound)
    assert_close(db, db_ref, dtype, bound)
    if with_dA_prev:
        assert_close(dA_prev, dA_ref, dtype, bound)
    np.testing.assert_array_equal(W, W_before)


@pytest.mark.parametrize("with_dA_prev", [True, False], ids=["dA_prev", "no_dA_prev"])
@pytest.mark.parametrize("act", ACTS, ids=ACT_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_act_backward(dtype, act, with_dA_prev):
    rng = np.random.default_rng(act + 10 * with_dA_prev)
    n_out, n_in, m = shapes(rng)
    dA = rand(rng, (n_out, m), dtype)
    Z = rand(rng, (n_out, m), dtype, -3, 3)
    A = np.empty_like(Z)
    for idx in np.ndindex(Z.shape):
        A[idx] = naive_g(Z[idx], act)
    A_prev = rand(rng, (n_in, m), dtype)
    W = rand(rng, (n_out, n_in), dtype)
    dZ = np.full((n_out, m), np.nan, dtype=dtype)
    dW = np.full((n_out, n_in), np.nan, dtype=dtype)
    db = np.full((n_out, 1), np.nan, dtype=dtype)
    dA_prev = np.full((n_in, m), np.nan, dtype=dtype) if with_dA_prev else None
    assert K.linear_act_backward(dA, Z, A, act, A_prev, W, 0.25, 0.3, dZ, dW, db,
                                 dA_prev) is None
    assert_close(dZ, naive_act_backward(dA, Z, A, act), dtype)
    dW_ref, db_ref, dA_ref = naive_linear_backward(dZ, A_prev, W, 0.25, 0.3)
    bound = 4.0 * max(m, n_out) + 2.0
    assert_close(dW, dW_ref, dtype, bound)
    assert_close(db, db_ref, dtype, bound)
    if with_dA_prev:
        assert_close(dA_prev, dA_ref, dtype, bound)


@pytest.mark.parametrize("scale", [1.0, 0.2])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_ce_backward(dtype, seed, scale):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 8))
    A = rand(rng, (1, m), dtype, 0.0, 1.0)
    Y = (rng.uniform(size=(1, m)) > 0.5).astype(dtype)
    dZ = np.full((1, m), np.nan, dtype=dtype)
    assert K.sigmoid_ce_backward(A, Y, scale, dZ) is None
    assert_close(dZ, naive_sigmoid_ce_backward(A, Y, scale), dtype)


# --------------------------------------------------------------------------------------
# Costs
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [S.CE_SUM, S.CE_NANSUM, S.CE_CLIPPED],
                         ids=["sum", "nansum", "clipped"])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_interior(dtype, seed, mode):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 9))
    A = rand(rng, (1, m), dtype, 0.01, 0.99)
    Y = (rng.uniform(size=(1, m)) > 0.5).astype(dtype)
    got = K.cross_entropy(A, Y, mode)
    assert type(got) is float
    assert_close(got, naive_cross_entropy(A, Y, mode), dtype)


def naive_logit_cross_entropy(Z, Y):
    """The cross-entropy of sigmoid(z) from the logits, one term at a time in Python."""
    total = 0.0
    for j in range(Z.shape[1]):
        z, y = float(Z[0, j]), float(Y[0, j])
        total += max(z, 0.0) - z * y + math.log1p(math.exp(-abs(z)))
    return total / Y.shape[1]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_logits(dtype, seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 9))
    Z = rand(rng, (1, m), dtype, -30.0, 30.0)
    Y = (rng.uniform(size=(1, m)) > 0.5).astype(dtype)
    assert_close(K.cross_entropy(Z, Y, S.CE_LOGITS), naive_logit_cross_entropy(Z, Y), dtype)
    # where the probabilities are not saturated, it is the cross-entropy of sigmoid(Z)
    Zs = np.clip(Z, -10, 10).astype(np.float64)
    A = 1.0 / (1.0 + np.exp(-Zs))
    np.testing.assert_allclose(K.cross_entropy(Zs, Y.astype(np.float64), S.CE_LOGITS),
                               naive_cross_entropy(A, Y, S.CE_SUM), rtol=1e-12)


def test_cross_entropy_logits_finite_where_probabilities_saturate():
    Z = np.array([[800.0, -800.0, 40.0, -40.0]])
    Y = np.array([[0.0, 1.0, 1.0, 0.0]])
    A = np.array([[1.0, 0.0, 1.0, 0.0]])      # sigmoid(Z) in float64
    assert not math.isfinite(K.cross_entropy(A, Y, S.CE_SUM))   # inf * 0 is nan
    got = K.cross_entropy(Z, Y, S.CE_LOGITS)
    assert math.isfinite(got)
    assert got == pytest.approx((800.0 + 800.0 + 2 * math.log1p(math.exp(-40.0))) / 4,
                                rel=1e-15)


def test_cross_entropy_real_labels():
    A = np.array([[0.2, 0.7, 0.5]])
    Y = np.array([[0.3, 0.9, 0.5]])
    for mode in (S.CE_SUM, S.CE_NANSUM, S.CE_CLIPPED):
        assert_close(K.cross_entropy(A, Y, mode), naive_cross_entropy(A, Y, mode),
                     np.float64)


# (A, Y) with saturated predictions; a right one (A == Y in {0, 1}) gives 0 * inf = nan,
# a wrong one inf.
SATURATED = {
    "right_0": ([[0.0, 0.3]], [[0.0, 1.0]]),
    "right_1": ([[1.0, 0.3]], [[1.0, 0.0]]),
    "wrong_0": ([[0.0, 0.3]], [[1.0, 1.0]]),
    "wrong_1": ([[1.0, 0.6]], [[0.0, 1.0]]),
    "both": ([[0.0, 1.0, 1.0, 0.5]], [[0.0, 1.0, 0.0, 1.0]]),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("case", sorted(SATURATED))
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_saturated_sum_and_nansum(dtype, case):
    A = np.array(SATURATED[case][0], dtype=dtype)
    Y = np.array(SATURATED[case][1], dtype=dtype)
    for mode in (S.CE_SUM, S.CE_NANSUM):
        got = K.cross_entropy(A, Y, mode)
        want = naive_cross_entropy(A, Y, mode)
        if math.isnan(want):
            assert math.isnan(got), (mode, got)
        elif math.isinf(want):
            assert got == want, (mode, got)
        else:
            assert_close(got, want, dtype)
    # the documented behaviour, spelled out
    if case.startswith("right"):
        assert math.isnan(K.cross_entropy(A, Y, S.CE_SUM))
        assert math.isfinite(K.cross_entropy(A, Y, S.CE_NANSUM))
    if case.startswith("wrong"):
        assert K.cross_entropy(A, Y, S.CE_SUM) == math.inf
        assert K.cross_entropy(A, Y, S.CE_NANSUM) == math.inf


@pytest.mark.parametrize("case", sorted(SATURATED))
def test_cross_entropy_clipped_is_finite_float64(case):
    A = np.array(SATURATED[case][0])
    Y = np.array(SATURATED[case][1])
    got = K.cross_entropy(A, Y, S.CE_CLIPPED)
    assert math.isfinite(got)
    assert_close(got, naive_cross_entropy(A, Y, S.CE_CLIPPED), np.float64)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("case", ["right_1", "wrong_1"])
def test_cross_entropy_clipped_is_finite_float32(case):
    A = np.array(SATURATED[case][0], dtype=np.float32)
    Y = np.array(SATURATED[case][1], dtype=np.float32)
    assert math.isfinite(K.cross_entropy(A, Y, S.CE_CLIPPED))


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 4), (1, 1), (5, 2)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_squares(dtype, shape):
    rng = np.random.default_rng(len(shape) * 10 + shape[0])
    x = rand(rng, shape, dtype)
    got = K.sum_squares(x)
    assert type(got) is float
    assert_close(got, naive_sum_squares(x), dtype)


def test_sum_squares_of_zeros_and_empty():
    assert K.sum_squares(np.zeros((3, 2))) == 0.0
    assert K.sum_squares(np.zeros((0, 2))) == 0.0


# --------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("in_place", [False, True], ids=["out", "in_place"])
@pytest.mark.parametrize("seed", [1, 3, 2024])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_forward_compat(dtype, seed, in_place):
    rng = np.random.default_rng(seed)
    n, m = (int(x) for x in rng.integers(1, 7, size=2))
    keep_prob = 0.7
    A = rand(rng, (n, m), dtype)
    A_in = A.copy()
    D = np.zeros((n, m), dtype=bool)
    A_out = A if in_place else np.full_like(A, np.nan)
    np.random.seed(seed)
    # the seed argument is ignored in compat mode
    assert K.dropout_forward(A, keep_prob, S.DROPOUT_COMPAT, 987654, D, A_out) is None
    rs = np.random.RandomState(seed)
    U = rs.rand(n, m)
    np.testing.assert_array_equal(D, U < keep_prob)
    # the global stream advanced by exactly n * m uniform draws
    assert same_rng_state(rs)
    np.testing.assert_array_equal(np.random.rand(4), rs.rand(4))
    assert A_out.dtype == dtype
    assert_close(A_out, naive_dropout_apply(A_in, D, keep_prob), dtype)


def test_dropout_forward_compat_matches_notebook_draw_order():
    # two hidden layers drawn one after the other from one seeding, as the notebook
    np.random.seed(1)
    A1, A2 = np.ones((3, 4)), np.ones((2, 4))
    D1, D2 = np.empty((3, 4), bool), np.empty((2, 4), bool)
    K.dropout_forward(A1, 0.5, S.DROPOUT_COMPAT, 0, D1, A1)
    K.dropout_forward(A2, 0.5, S.DROPOUT_COMPAT, 0, D2, A2)
    np.random.seed(1)
    np.testing.assert_array_equal(D1, np.random.rand(3, 4) < 0.5)
    np.testing.assert_array_equal(D2, np.random.rand(2, 4) < 0.5)
    np.testing.assert_array_equal(A1, np.where(D1, 2.0, 0.0))


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**40 + 7])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_forward_fast(dtype, seed):
    rng = np.random.default_rng(seed % 1000)
    n, m = (int(x) for x in rng.integers(1, 7, size=2))
    keep_prob = 0.6
    A = rand(rng, (n, m), dtype)
    np.random.seed(5)
    state = np.random.get_state()
    D = np.zeros((n, m), dtype=bool)
    A_out = np.full_like(A, np.nan)
    assert K.dropout_forward(A, keep_prob, S.DROPOUT_FAST, seed, D, A_out) is None
    U = naive_counter_uniform(seed, n * m).reshape(n, m)  # flat C-order index
    np.testing.assert_array_equal(D, U < keep_prob)
    assert_close(A_out, naive_dropout_apply(A, D, keep_prob), dtype)
    # NumPy's global stream is not touched
    after = np.random.get_state()
    assert np.array_equal(state[1], after[1]) and state[2:] == after[2:]
    # deterministic
    D2 = np.zeros((n, m), dtype=bool)
    K.dropout_forward(A, keep_prob, S.DROPOUT_FAST, seed, D2, np.empty_like(A))
    np.testing.assert_array_equal(D, D2)


@pytest.mark.parametrize("seed", [0, 1, 7, 123456789, 2**63 - 1])
def test_counter_uniform_matches_naive_splitmix(seed):
    got = K.counter_uniform(seed, 37)
    assert got.shape == (37,) and got.dtype == np.float64
    np.testing.assert_array_equal(got, naive_counter_uniform(seed, 37))


def test_counter_uniform_statistics_and_seeds():
    u = K.counter_uniform(42, 100_000)
    assert u.shape == (100_000,)
    assert (u >= 0.0).all() and (u < 1.0).all()
    assert abs(u.mean() - 0.5) < 0.005  # ~5 standard errors
    assert abs(u.var() - 1.0 / 12.0) < 0.002
    hist, _ = np.histogram(u, bins=10, range=(0.0, 1.0))
    assert hist.min() > 9_500 and hist.max() < 10_500
    # deterministic, prefix-stable, and different seeds differ
    np.testing.assert_array_equal(K.counter_uniform(42, 1000), u[:1000])
    v = K.counter_uniform(43, 1000)
    assert not np.array_equal(u[:1000], v)
    assert np.mean(u[:1000] == v) < 0.01
    assert K.counter_uniform(3, 0).shape == (0,)


@pytest.mark.parametrize("in_place", [False, True], ids=["out", "in_place"])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_backward(dtype, seed, in_place):
    rng = np.random.default_rng(seed)
    n, m = (int(x) for x in rng.integers(1, 7, size=2))
    keep_prob = float(rng.uniform(0.3, 1.0))
    dA = rand(rng, (n, m), dtype)
    dA_in = dA.copy()
    D = rng.uniform(size=(n, m)) < 0.5
    out = dA if in_place else np.full_like(dA, np.nan)
    assert K.dropout_backward(dA, D, keep_prob, out) is None
    assert_close(out, naive_dropout_apply(dA_in, D, keep_prob), dtype)


# --------------------------------------------------------------------------------------
# Optimizer steps, in place on views of flat buffers
# --------------------------------------------------------------------------------------

def _views(rng, dtype, shape, n_buffers):
    """``n_buffers`` flat buffers and a 2-D view into the middle of each."""
    size = shape[0] * shape[1]
    bufs, views = [], []
    for _ in range(n_buffers):
        buf = rand(rng, (size + 5,), dtype)
        view = buf[2:2 + size].reshape(shape)
        assert np.shares_memory(view, buf)
        bufs.append(buf)
        views.append(view)
    return bufs, views


SHAPES = [(3, 4), (5, 1), (1, 1)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_step_in_place(dtype, shape):
    rng = np.random.default_rng(shape[0] * 7 + shape[1])
    (buf,), (p,) = _views(rng, dtype, shape, 1)
    g = rand(rng, shape, dtype)
    before = buf.copy()
    p_expected = naive_sgd(p, g, 0.05)
    assert K.sgd_step(p, g, 0.05) is None
    assert_close(buf[2:-3].reshape(shape), p_expected, dtype)
    assert buf.dtype == dtype
    # only the viewed part changed
    np.testing.assert_array_equal(buf[:2], before[:2])
    np.testing.assert_array_equal(buf[-3:], before[-3:])
    assert not np.array_equal(buf, before)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_momentum_step_in_place(dtype, shape):
    rng = np.random.default_rng(shape[0] * 11 + shape[1])
    (pbuf, vbuf), (p, v) = _views(rng, dtype, shape, 2)
    g = rand(rng, shape, dtype)
    g_before = g.copy()
    p_expected, v_expected = naive_momentum(p, g, v, 0.9, 0.1)
    assert K.momentum_step(p, g, v, 0.9, 0.1) is None
    assert_close(pbuf[2:-3].reshape(shape), p_expected, dtype)
    assert_close(vbuf[2:-3].reshape(shape), v_expected, dtype)
    np.testing.assert_array_equal(g, g_before)


@pytest.mark.parametrize("t", [1, 2, 10])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_step_in_place(dtype, shape, t):
    rng = np.random.default_rng(shape[0] * 13 + shape[1] + t)
    (pbuf, mbuf, vbuf), (p, m, v) = _views(rng, dtype, shape, 3)
    v[...] = np.abs(v)  # a second moment is non-negative
    g = rand(rng, shape, dtype)
    args = (t, 0.01, 0.9, 0.999, 1e-8)
    p_expected, m_expected, v_expected = naive_adam(p, g, m, v, *args)
    assert K.adam_step(p, g, m, v, *args) is None
    assert_close(pbuf[2:-3].reshape(shape), p_expected, dtype)
    assert_close(mbuf[2:-3].reshape(shape), m_expected, dtype)
    assert_close(vbuf[2:-3].reshape(shape), v_expected, dtype)


def test_adam_first_step_from_zero_state_is_lr_times_sign():
    # t = 1 from zero moments: m_hat = g, v_hat = g**2 -> step = lr * g / (|g| + eps)
    p = np.zeros((2, 2))
    g = np.array([[3.0, -0.5], [1e-3, -2.0]])
    m, v = np.zeros_like(p), np.zeros_like(p)
    K.adam_step(p, g, m, v, 1, 0.1, 0.9, 0.999, 1e-8)
    np.testing.assert_allclose(p, -0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)


# --------------------------------------------------------------------------------------
# Gradient check
# --------------------------------------------------------------------------------------

def _random_net(rng, dtype=np.float64, n_hidden=None):
    n_hidden = int(rng.integers(1, 3)) if n_hidden is None else n_hidden
    dims = [int(rng.integers(1, 5))] + [int(rng.integers(1, 5)) for _ in range(n_hidden)]
    dims.append(1)
    n_params = sum(dims[l] * dims[l - 1] + dims[l] for l in range(1, len(dims)))
    theta = rand(rng, (n_params,), dtype, -1.0, 1.0)
    return dims, theta


def naive_mlp_cost(theta, X, Y, dims, hidden):
    Ws, bs = naive_unpack(theta, dims)
    _, As = naive_forward(X, Ws, bs, hidden)
    return naive_cross_entropy(As[-1], Y, S.CE_SUM)


@pytest.mark.parametrize("hidden", [S.RELU, S.TANH, S.SIGMOID], ids=["relu", "tanh",
                                                                       "sigmoid"])
@pytest.mark.parametrize("seed", SEEDS)
def test_grad_check_mlp(seed, hidden):
    rng = np.random.default_rng(100 + seed)
    dims, theta = _random_net(rng)
    m = int(rng.integers(2, 6))
    X = rand(rng, (dims[0], m), np.float64)
    Y = (rng.uniform(size=(1, m)) > 0.5).astype(np.float64)
    theta_before = theta.copy()
    eps = 1e-6
    gradapprox = np.full_like(theta, np.nan)
    out = K.grad_check_mlp(theta, X, Y, np.array(dims, dtype=np.int64), hidden, eps,
                           gradapprox)
    assert out is None
    np.testing.assert_array_equal(theta, theta_before)
    naive = np.empty_like(theta)
    for i in range(theta.size):
        plus, minus = theta.copy(), theta.copy()
        plus[i] += eps
        minus[i] -= eps
        naive[i] = (naive_mlp_cost(plus, X, Y, dims, hidden)
                    - naive_mlp_cost(minus, X, Y, dims, hidden)) / (2 * eps)
    # the two differences see the cost's rounding (~1e-16) divided by 2 eps
    np.testing.assert_allclose(gradapprox, naive, rtol=1e-7, atol=1e-8)
    # and they approximate the backpropagated gradient
    Ws, bs = naive_unpack(theta, dims)
    Zs, As = naive_forward(X, Ws, bs, hidden)
    dWs, dbs = naive_backward(Y, Ws, Zs, As, hidden, 0.0)
    np.testing.assert_allclose(gradapprox, naive_pack(dWs, dbs), rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------------------
# Training loop
# --------------------------------------------------------------------------------------

def _train_both(X, Y, dims, hidden, theta, first_epoch, n_epochs, optimizer, lrs, t,
                batch_size, shuffle_seed, *, beta=0.9, beta1=0.9, beta2=0.999,
                eps=1e-8, lambd=0.0, keep_prob=1.0, dropout_mode=S.DROPOUT_COMPAT,
                dropout_seed=1, cost_mode=S.CE_SUM, grad_form=S.GRAD_DW, cost_every=1,
                opt_m=None, opt_v=None):
    """Run numpy_ref.train_mlp and naive_train from the same state.

    Returns (kernel results, naive results, global RandomState snapshot after the
    kernel ran) where results are (theta, opt_m, opt_v, t, costs).
    """
    dtype = theta.dtype
    opt_m = np.zeros_like(theta) if opt_m is None else opt_m
    opt_v = np.zeros_like(theta) if opt_v is None else opt_v
    n_costs = sum(1 for e in range(first_epoch, first_epoch + n_epochs)
                  if e % cost_every == 0)
    costs = np.full(max(n_costs, 1), np.nan)
    naive = naive_train(X, Y, dims, hidden, theta.copy(), opt_m.copy(), opt_v.copy(),
                        first_epoch, n_epochs, optimizer, lrs, beta, beta1, beta2, eps,
                        t, batch_size, shuffle_seed, lambd, keep_prob, dropout_mode,
                        dropout_seed, cost_mode, cost_every)
    np.random.seed(99)  # whatever the global stream was before
    t_out = K.train_mlp(X, Y, np.array(dims, dtype=np.int64), hidden, theta, opt_m,
                        opt_v, first_epoch, n_epochs, optimizer,
                        np.asarray(lrs, dtype=np.float64), beta, beta1, beta2, eps, t,
                        batch_size, shuffle_seed, lambd, keep_prob, dropout_mode,
                        dropout_seed, cost_mode, grad_form, cost_every, costs)
    state = np.random.get_state()
    assert theta.dtype == dtype and opt_m.dtype == dtype
    return (theta, opt_m, opt_v, t_out, costs[:n_costs]), naive, state


def _data(rng, dims, m, dtype):
    X = rand(rng, (dims[0], m), dtype)
    Y = (rng.uniform(size=(1, m)) > 0.5).astype(dtype)
    return X, Y


@pytest.mark.parametrize("lambd", [0.0, 0.4])
@pytest.mark.parametrize("hidden", [S.RELU, S.TANH], ids=["relu", "tanh"])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_train_mlp_gd_full_batch(dtype, seed, hidden, lambd):
    rng = np.random.default_rng(200 + seed)
    dims, theta = _random_net(rng, dtype)
    m = int(rng.integers(2, 7))
    X, Y = _data(rng, dims, m, dtype)
    lrs = [0.5, 0.3, 0.2]
    got, want, _ = _train_both(X, Y, dims, hidden, theta, 0, 3, S.OPT_GD, lrs, 0, 0, 0,
                               lambd=lambd)
    assert got[3] == want[3] == 3  # one step per epoch
    assert_close(got[0], want[0], dtype, 10.0)
    assert_close(got[4], want[4], dtype, 10.0)
    assert len(want[4]) == 3


@pytest.mark.parametrize("dtype", DTYPES)
def test_train_mlp_first_epoch_lrs_cost_every_and_t(dtype):
    # epochs 2, 3 at lrs[2], lrs[3]; cost recorded for epoch 2 only; t counts on from 7
    rng = np.random.default_rng(7)
    dims, theta = _random_net(rng, dtype, n_hidden=2)
    X, Y = _data(rng, dims, 4, dtype)
    lrs = [10.0, 10.0, 0.3, 0.05]
    got, want, _ = _train_both(X, Y, dims, S.RELU, theta, 2, 2, S.OPT_GD, lrs, 7, 0, 0,
                               cost_every=2, cost_mode=S.CE_CLIPPED)
    assert got[3] == want[3] == 9
    assert len(got[4]) == 1
    assert_close(got[0], want[0], dtype, 10.0)
    assert_close(got[4], want[4], dtype, 10.0)


@pytest.mark.parametrize("grad_form", [S.GRAD_DZ, S.GRAD_CHAIN], ids=["dz", "chain"])
@pytest.mark.parametrize("seed", SEEDS)
def test_train_mlp_gradient_forms_agree_with_dw(seed, grad_form):
    # the three ways of writing the output gradient are the same math
    rng = np.random.default_rng(300 + seed)
    dims, theta = _random_net(rng)
    X, Y = _data(rng, dims, 5, np.float64)
    got, want, _ = _train_both(X, Y, dims, S.RELU, theta, 0, 2, S.OPT_GD, [0.4, 0.4], 0,
                               0, 0, lambd=0.1, grad_form=grad_form)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[4], want[4], rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_train_mlp_momentum_full_batch(dtype):
    rng = np.random.default_rng(11)
    dims, theta = _random_net(rng, dtype)
    X, Y = _data(rng, dims, 5, dtype)
    got, want, _ = _train_both(X, Y, dims, S.TANH, theta, 0, 3, S.OPT_MOMENTUM,
                               [0.2] * 3, 0, 0, 0, beta=0.8)
    assert got[3] == 3
    for k in range(3):  # theta, opt_m (the velocity), costs
        assert_close(got[(0, 1, 4)[k]], want[(0, 1, 4)[k]], dtype, 10.0)


@pytest.mark.parametrize("first_epoch,t0", [(0, 0), (3, 4)])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_train_mlp_minibatch_adam(dtype, seed, first_epoch, t0):
    # one epoch, m = 5 cut into batches of 2, 2, 1 after the per-epoch shuffle
    rng = np.random.default_rng(400 + seed)
    dims, theta = _random_net(rng, dtype)
    X, Y = _data(rng, dims, 5, dtype)
    lrs = [0.01] * (first_epoch + 1)
    opt_m = rand(rng, theta.shape, dtype, -0.1, 0.1) if t0 else None
    opt_v = rand(rng, theta.shape, dtype, 0.0, 0.1) if t0 else None
    shuffle_seed = 10
    got, want, state = _train_both(X, Y, dims, S.RELU, theta, first_epoch, 1, S.OPT_ADAM,
                                   lrs, t0, 2, shuffle_seed, cost_every=1,
                                   opt_m=opt_m, opt_v=opt_v)
    assert got[3] == want[3] == t0 + 3  # the number of batches
    for k in (0, 1, 2):  # theta, first and second moments
        assert_close(got[k], want[k], dtype, 10.0)
    assert len(got[4]) == 1
    assert_close(got[4], want[4], dtype, 10.0)  # the last (one-example) batch's cost
    # the global stream is left after seed(shuffle_seed + epoch + 1); permutation(m)
    rs = np.random.RandomState(shuffle_seed + first_epoch + 1)
    rs.permutation(5)
    r = rs.get_state()
    assert np.array_equal(state[1], r[1]) and state[2:] == r[2:]


def test_train_mlp_minibatch_batches_follow_the_permutation():
    # with a zero learning rate nothing trains; the recorded cost is then the cost of
    # the last batch, which is the single example perm[-1]
    rng = np.random.default_rng(5)
    dims, theta = _random_net(rng)
    X, Y = _data(rng, dims, 5, np.float64)
    costs = np.zeros(1)
    t = K.train_mlp(X, Y, np.array(dims, dtype=np.int64), S.RELU, theta,
                    np.zeros_like(theta), np.zeros_like(theta), 0, 1, S.OPT_GD,
                    np.zeros(1), 0.9, 0.9, 0.999, 1e-8, 0, 2, 10, 0.0, 1.0,
                    S.DROPOUT_COMPAT, 1, S.CE_SUM, S.GRAD_DW, 1, costs)
    assert t == 3
    last = int(np.random.RandomState(11).permutation(5)[-1])
    Ws, bs = naive_unpack(theta, dims)
    _, As = naive_forward(X[:, [last]], Ws, bs, S.RELU)
    np.testing.assert_allclose(costs[0], naive_cross_entropy(As[-1], Y[:, [last]],
                                                             S.CE_SUM), rtol=1e-12)


@pytest.mark.parametrize("mode", [S.DROPOUT_COMPAT, S.DROPOUT_FAST],
                         ids=["compat", "fast"])
@pytest.mark.parametrize("seed", SEEDS)
def test_train_mlp_dropout(seed, mode):
    rng = np.random.default_rng(500 + seed)
    dims, theta = _random_net(rng, n_hidden=2)
    X, Y = _data(rng, dims, 4, np.float64)
    got, want, state = _train_both(X, Y, dims, S.RELU, theta, 0, 3, S.OPT_GD, [0.3] * 3,
                                   0, 0, 0, keep_prob=0.7, dropout_mode=mode,
                                   dropout_seed=3)
    assert got[3] == 3
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[4], want[4], rtol=1e-12)
    if mode == S.DROPOUT_COMPAT:
        # left where the notebook leaves it: after the last forward pass's draws
        rs = want[5]
        assert np.array_equal(state[1], rs.get_state()[1])
        assert state[2:] == rs.get_state()[2:]
    else:
        # fast dropout does not touch the global stream (seeded 99 before the run)
        ref = np.random.RandomState(99).get_state()
        assert np.array_equal(state[1], ref[1]) and state[2:] == ref[2:]


def test_train_mlp_zero_epochs_changes_nothing():
    rng = np.random.default_rng(9)
    dims, theta = _random_net(rng)
    X, Y = _data(rng, dims, 3, np.float64)
    before = theta.copy()
    costs = np.zeros(1)
    t = K.train_mlp(X, Y, np.array(dims, dtype=np.int64), S.RELU, theta,
                    np.zeros_like(theta), np.zeros_like(theta), 0, 0, S.OPT_ADAM,
                    np.zeros(0), 0.9, 0.9, 0.999, 1e-8, 5, 0, 0, 0.0, 1.0,
                    S.DROPOUT_COMPAT, 1, S.CE_SUM, S.GRAD_DW, 1, costs)
    assert t == 5
    np.testing.assert_array_equal(theta, before)
