"""Compiled random streams: NumPy's legacy MT19937 and the fast-dropout counter hash.

* **Legacy MT19937** working on NumPy's own state (``np.random.get_state()``: a
  ``uint32[624]`` key and a position). :func:`mt_seed` is ``np.random.seed(int)``,
  :func:`mt_fill_uniform` is ``np.random.rand``, :func:`mt_permutation` is
  ``np.random.permutation(n)`` (``arange`` then the legacy Fisher-Yates shuffle with
  ``random_interval``), all bit-exact. The callers copy the key in and set NumPy's state
  afterwards, so NumPy's global stream continues as if NumPy had drawn.
* **splitmix64 counter hash** (:func:`counter_key`, :func:`counter_uniform_at`): element
  ``i`` of stream ``seed`` is a pure function of ``(seed, i)``, so any partition over
  threads gives the same numbers; equal to ``numpy_ref.counter_uniform``.

All arithmetic is on explicit ``uint32`` / ``uint64`` values so nothing promotes to float.
"""

import numpy as np
from numba import njit, prange

from . import _jitcache  # noqa: F401  (stamps the kernels here; see its docstring)

__all__ = []

_JIT = {"cache": True, "error_model": "numpy"}

MT_N = 624
_MT_M = 397
_UPPER = np.uint32(0x80000000)
_LOWER = np.uint32(0x7FFFFFFF)
_MATRIX_A = np.uint32(0x9908B0DF)
_ONE32 = np.uint32(1)
_ZERO32 = np.uint32(0)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_INV53 = 1.0 / 9007199254740992.0


# --------------------------------------------------------------------------- MT19937
@njit(**_JIT)
def mt_seed(key, seed):
    """``np.random.seed(seed)``, ``seed`` in [0, 2**32): fill ``key``, return pos 624."""
    s = np.uint32(seed & 0xFFFFFFFF)
    for i in range(MT_N):
        key[i] = s
        s = np.uint32(np.uint32(1812433253) * (s ^ (s >> np.uint32(30))) + np.uint32(i + 1))
    return np.int64(MT_N)


@njit(**_JIT)
def mt_seed4(keys, seed):
    """:func:`mt_seed` of ``seed``, ``seed + 1``, ``seed + 2``, ``seed + 3`` into the rows of
    ``keys`` (``(4, 624)``), the four chains interleaved: one seeding is a serial chain
    of multiplies, four run in about the time of one and a half."""
    mul = np.uint32(1812433253)
    s0 = np.uint32(seed & 0xFFFFFFFF)
    s1 = np.uint32((seed + 1) & 0xFFFFFFFF)
    s2 = np.uint32((seed + 2) & 0xFFFFFFFF)
    s3 = np.uint32((seed + 3) & 0xFFFFFFFF)
    for i in range(MT_N):
        keys[0, i] = s0
        keys[1, i] = s1
        keys[2, i] = s2
        keys[3, i] = s3
        c = np.uint32(i + 1)
        s0 = np.uint32(mul * (s0 ^ (s0 >> np.uint32(30))) + c)
        s1 = np.uint32(mul * (s1 ^ (s1 >> np.uint32(30))) + c)
        s2 = np.uint32(mul * (s2 ^ (s2 >> np.uint32(30))) + c)
        s3 = np.uint32(mul * (s3 ^ (s3 >> np.uint32(30))) + c)


@njit(**_JIT)
def _mt_regenerate(key):
    for i in range(MT_N - _MT_M):
        y = (key[i] & _UPPER) | (key[i + 1] & _LOWER)
        key[i] = key[i + _MT_M] ^ (y >> _ONE32) ^ (_MATRIX_A if (y & _ONE32) else _ZERO32)
    for i in range(MT_N - _MT_M, MT_N - 1):
        y = (key[i] & _UPPER) | (key[i + 1] & _LOWER)
        key[i] = key[i + _MT_M - MT_N] ^ (y >> _ONE32) ^ (
            _MATRIX_A if (y & _ONE32) else _ZERO32)
    y = (key[MT_N - 1] & _UPPER) | (key[0] & _LOWER)
    key[MT_N - 1] = key[_MT_M - 1] ^ (y >> _ONE32) ^ (
        _MATRIX_A if (y & _ONE32) else _ZERO32)


@njit(inline="always", **_JIT)
def _temper(y):
    y ^= y >> np.uint32(11)
    y ^= (y << np.uint32(7)) & np.uint32(0x9D2C5680)
    y ^= (y << np.uint32(15)) & np.uint32(0xEFC60000)
    y ^= y >> np.uint32(18)
    return y


@njit(inline="always", **_JIT)
def mt_next32(key, pos):
    """Next tempered 32-bit output and the new position."""
    if pos >= MT_N:
        _mt_regenerate(key)
        pos = 0
    return _temper(key[pos]), pos + 1


@njit(inline="always", **_JIT)
def _to_double(a, b):
    """NumPy's legacy random double ``((a >> 5) * 2**26 + (b >> 6)) / 2**53``.

    The shifted words fit in int32, whose conversion to float64 vectorizes (uint32's,
    which Numba widens to 64 bits first, does not); every step is exact.
    """
    hi = np.float64(np.int32(a >> np.uint32(5)))
    lo = np.float64(np.int32(b >> np.uint32(6)))
    return (hi * 67108864.0 + lo) * _INV53


@njit(**_JIT)
def mt_next_double(key, pos):
    """One legacy random double from two successive outputs; returns it and the position."""
    a, pos = mt_next32(key, pos)
    b, pos = mt_next32(key, pos)
    return _to_double(a, b), pos


@njit(**_JIT)
def mt_fill_uniform(key, pos, out):
    """``out[:] = np.random.rand(out.size)`` (1-D ``out``); returns the new position.

    Whole pairs inside the current 624-word block are converted in one vectorizable
    loop; a pair straddling a regeneration goes through :func:`mt_next_double`.
    """
    n = out.shape[0]
    i = 0
    while i < n:
        if pos >= MT_N:
            _mt_regenerate(key)
            pos = 0
        cnt = min((MT_N - pos) // 2, n - i)
        words = key[pos:pos + 2 * cnt]      # slices: LLVM vectorizes this loop over
        dst = out[i:i + cnt]                # them, not over offset indices
        for c in range(cnt):
            dst[c] = _to_double(_temper(words[2 * c]), _temper(words[2 * c + 1]))
        pos += 2 * cnt
        i += cnt
        if i < n and pos == MT_N - 1:
            u, pos = mt_next_double(key, pos)
            out[i] = u
            i += 1
    return pos


@njit(inline="always", **_JIT)
def _mt_interval(key, pos, mx):
    """Legacy ``random_interval(mx)``: uniform in [0, mx] by masked rejection."""
    if mx == 0:
        return 0, pos
    mask = np.uint64(mx)
    mask |= mask >> np.uint64(1)
    mask |= mask >> np.uint64(2)
    mask |= mask >> np.uint64(4)
    mask |= mask >> np.uint64(8)
    mask |= mask >> np.uint64(16)
    mask |= mask >> np.uint64(32)
    umx = np.uint64(mx)
    if mx <= 0xFFFFFFFF:
        while True:
            v, pos = mt_next32(key, pos)
            val = np.uint64(v) & mask
            if val <= umx:
                return np.int64(val), pos
    while True:
        hi, pos = mt_next32(key, pos)
        lo, pos = mt_next32(key, pos)
        val = ((np.uint64(hi) << np.uint64(32)) | np.uint64(lo)) & mask
        if val <= umx:
            return np.int64(val), pos


@njit(**_JIT)
def _temper_block(key, tempered, lo):
    """``tempered[q] = _temper(key[q])`` for ``q >= lo`` (one vectorized pass)."""
    for q in range(lo, MT_N):
        tempered[q] = _temper(key[q])


@njit(**_JIT)
def mt_permutation(key, pos, out):
    """``out[:] = np.random.permutation(out.size)`` (legacy shuffle); returns ``pos``.

    The draws are :func:`_mt_interval`'s, taken from a tempered copy of each 624-word
    block (tempered in one pass) with the mask narrowed as ``i`` falls; ``key`` stays
    the generator's state.
    """
    return mt_permutation_into(key, pos, out, np.empty(MT_N, np.uint32),
                               np.empty(out.shape[0], np.uint32))


@njit(**_JIT)
def mt_permutation_into(key, pos, out, tempered, js):
    """:func:`mt_permutation` with its scratch given: ``tempered`` of 624 and ``js`` of
    ``out.size`` ``uint32``."""
    n = out.shape[0]
    for i in range(n):
        out[i] = i
    if n - 1 > 0xFFFFFFFF:                  # 64-bit draws: the general path
        for i in range(n - 1, 0, -1):
            j, pos = _mt_interval(key, pos, i)
            t = out[i]
            out[i] = out[j]
            out[j] = t
        return pos
    if pos < MT_N:
        _temper_block(key, tempered, pos)
    # First every draw j of i = n-1 .. 1, then the swaps. A rejected draw leaves i as it
    # is and its store is overwritten by the next one, so the scan has no branch that
    # depends on a draw; the mask is halved when i falls to the next power of two less 1.
    ui = np.uint32(max(n - 1, 0))
    mask = ui
    mask |= mask >> np.uint32(1)
    mask |= mask >> np.uint32(2)
    mask |= mask >> np.uint32(4)
    mask |= mask >> np.uint32(8)
    mask |= mask >> np.uint32(16)
    while ui > _ZERO32:
        if pos >= MT_N:
            _mt_regenerate(key)
            _temper_block(key, tempered, 0)
            pos = 0
        while pos < MT_N and ui > _ZERO32:
            v = tempered[pos] & mask
            pos += 1
            js[ui] = v
            ui -= np.uint32(v <= ui)
            mask >>= np.uint32((mask >> _ONE32) >= ui)
    for i in range(n - 1, 0, -1):
        j = np.int64(js[i])
        t = out[i]
        out[i] = out[j]
        out[j] = t
    return pos


# --------------------------------------------------------------------------- counter hash
@njit(**_JIT)
def splitmix64(x):
    """The splitmix64 finaliser on a ``uint64`` (wrap-around arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX2
    return x ^ (x >> np.uint64(31))


@njit(**_JIT)
def counter_key(seed):
    """Stream key of ``seed`` (an int64 holding the seed modulo 2**64)."""
    return splitmix64(np.uint64(np.int64(seed)) + _GOLDEN)


@njit(**_JIT)
def counter_uniform_at(key, i):
    """Element ``i`` (0-based) of the stream with ``key``: a double in [0, 1)."""
    z = splitmix64(key + np.uint64(i + 1) * _GOLDEN)
    return np.float64(z >> np.uint64(11)) * _INV53


@njit(**_JIT)
def counter_fill(seed, out):
    """``out[:] = counter_uniform(seed, out.size)`` (1-D ``out``), serial."""
    key = counter_key(seed)
    for i in range(out.shape[0]):
        out[i] = counter_uniform_at(key, i)


@njit(parallel=True, **_JIT)
def counter_fill_par(seed, out):
    """:func:`counter_fill` split over threads (each element independent)."""
    key = counter_key(seed)
    for i in prange(out.shape[0]):
        out[i] = counter_uniform_at(key, i)
