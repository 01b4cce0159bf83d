"""Inputs of the course test cases whose outputs the seeds print.

Each builder reproduces one ``*_test_case()`` helper of the course's ``testCases`` files:
the same ``np.random.seed`` value, the same draw order and shapes, and the same literal
arrays, so that the values the seeds print (see ``shared/seeds/``) are the expected
outputs of the façade on these inputs. Builders are plain NumPy, seed inside the function
(never at import) and return fresh arrays on every call.

Versions
--------
- Optimization (course 2, week 2): the ``testCases`` version quoted in seed 000, lines
  58-163 (all draws from seed 1; v and s given as literal zero dicts).
- Regularization (course 2, week 1): the ``testCases`` version whose caches are literal
  tuples (seed 1 draws X, then the literal cache). Its outputs match seed 001, lines
  749 and 816-821 and 1047-1051.
- Gradient checking (course 2, week 1): ``gradient_check_n_test_case`` with seed 1,
  x (4, 3), y = [1, 1, 0] and a 4-5-3-1 network; it reproduces seed 001, line 1511.
- Planar (course 1, week 3): the variant that seed 003 prints (lines 133-284), which draws
  from seed 2030 where the course's ``testCases_v2`` uses seed 1; the literal parameter
  and cache arrays are the course's. Only this variant reproduces seed 003's numbers.
"""

import numpy as np

__all__ = [
    "update_parameters_with_gd_test_case",
    "random_mini_batches_test_case",
    "initialize_velocity_test_case",
    "update_parameters_with_momentum_test_case",
    "initialize_adam_test_case",
    "update_parameters_with_adam_test_case",
    "compute_cost_with_regularization_test_case",
    "backward_propagation_with_regularization_test_case",
    "forward_propagation_with_dropout_test_case",
    "backward_propagation_with_dropout_test_case",
    "gradient_check_n_test_case",
    "planar_layer_sizes_test_case",
    "planar_initialize_parameters_test_case",
    "planar_forward_propagation_test_case",
    "planar_compute_cost_test_case",
    "planar_backward_propagation_test_case",
    "planar_update_parameters_test_case",
    "planar_predict_test_case",
]


# --------------------------------------------------------------------------------------
# Optimization methods (course 2, week 2)
# --------------------------------------------------------------------------------------

def _two_layer_params_and_grads():
    """Seed 1, then W1 (2,3), b1 (2,1), W2 (3,3), b2 (3,1), then the four gradients."""
    np.random.seed(1)
    parameters = {}
    for name, shape in (("W1", (2, 3)), ("b1", (2, 1)), ("W2", (3, 3)), ("b2", (3, 1))):
        parameters[name] = np.random.randn(*shape)
    grads = {}
    for name, shape in (("dW1", (2, 3)), ("db1", (2, 1)), ("dW2", (3, 3)), ("db2", (3, 1))):
        grads[name] = np.random.randn(*shape)
    return parameters, grads


def _zero_moments(parameters):
    return {"d" + key: np.zeros(value.shape) for key, value in parameters.items()}


def update_parameters_with_gd_test_case():
    """Course helper ``update_parameters_with_gd_test_case()``.

    Returns
    -------
    parameters, grads, learning_rate
        Two-layer dicts drawn from seed 1 and ``learning_rate = 0.01``.
    """
    parameters, grads = _two_layer_params_and_grads()
    return parameters, grads, 0.01


def random_mini_batches_test_case():
    """Course helper ``random_mini_batches_test_case()``.

    Returns
    -------
    X, Y, mini_batch_size
        Seed 1: X = randn(12288, 148), Y = randn(1, 148) < 0.5 (boolean), size 64.
    """
    np.random.seed(1)
    X = np.random.randn(12288, 148)
    Y = np.random.randn(1, 148) < 0.5
    return X, Y, 64


def initialize_velocity_test_case():
    """Course helper ``initialize_velocity_test_case()``: the seed-1 parameters."""
    parameters, _ = _two_layer_params_and_grads()
    return parameters


def update_parameters_with_momentum_test_case():
    """Course helper ``update_parameters_with_momentum_test_case()``.

    Returns
    -------
    parameters, grads, v
        The seed-1 parameters and gradients and a zero velocity.
    """
    parameters, grads = _two_layer_params_and_grads()
    return parameters, grads, _zero_moments(parameters)


def initialize_adam_test_case():
    """Course helper ``initialize_adam_test_case()``: the seed-1 parameters."""
    parameters, _ = _two_layer_params_and_grads()
    return parameters


def update_parameters_with_adam_test_case():
    """Course helper ``update_parameters_with_adam_test_case()``.

    Returns
    -------
    parameters, grads, v, s
        The seed-1 parameters and gradients and zero first and second moments.
    """
    parameters, grads = _two_layer_params_and_grads()
    return parameters, grads, _zero_moments(parameters), _zero_moments(parameters)


# --------------------------------------------------------------------------------------
# Regularization (course 2, week 1)
# --------------------------------------------------------------------------------------

_REG_Y = [[1, 1, 0, 1, 0]]

# Literal arrays shared by the regularization caches.
_REG_Z1 = [[-1.52855314, 3.32524635, 2.13994541, 2.60700654, -0.75942115],
           [-1.98043538, 4.1600994, 0.79051021, 1.46493512, -0.45506242]]
_REG_W1 = [[-1.09989127, -0.17242821, -0.87785842],
           [0.04221375, 0.58281521, -1.10061918]]
_REG_B1 = [[1.14472371], [0.90159072]]
_REG_W2 = [[0.50249434, 0.90085595],
           [-0.68372786, -0.12289023],
           [-0.93576943, -0.26788808]]
_REG_B2 = [[0.53035547], [-0.69166075], [-0.39675353]]
_REG_W3 = [[-0.6871727, -0.84520564, -0.67124613]]
_REG_B3 = [[-0.0126646]]


def _three_layer_params_seed1():
    """Seed 1: W1 (2,3), b1 (2,1), W2 (3,2), b2 (3,1), W3 (1,3), b3 (1,1)."""
    parameters = {}
    for name, shape in (("W1", (2, 3)), ("b1", (2, 1)), ("W2", (3, 2)), ("b2", (3, 1)),
                        ("W3", (1, 3)), ("b3", (1, 1))):
        parameters[name] = np.random.randn(*shape)
    return parameters


def compute_cost_with_regularization_test_case():
    """Course helper ``compute_cost_with_regularization_test_case()``.

    Returns
    -------
    A3, Y, parameters
        Literal A3 (1, 5), Y = [[1, 1, 0, 1, 0]] and seed-1 parameters of a 3-2-3-1 net.
    """
    np.random.seed(1)
    Y = np.array(_REG_Y)
    parameters = _three_layer_params_seed1()
    A3 = np.array([[0.40682402, 0.01629284, 0.16722898, 0.10118111, 0.40682402]])
    return A3, Y, parameters


def backward_propagation_with_regularization_test_case():
    """Course helper ``backward_propagation_with_regularization_test_case()``.

    Returns
    -------
    X, Y, cache
        X = randn(3, 5) from seed 1, Y = [[1, 1, 0, 1, 0]] and the course's literal
        12-entry cache (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3).
    """
    np.random.seed(1)
    X = np.random.randn(3, 5)
    Y = np.array(_REG_Y)
    Z1 = np.array(_REG_Z1)
    A1 = np.array([[0.0, 3.32524635, 2.13994541, 2.60700654, 0.0],
                   [0.0, 4.1600994, 0.79051021, 1.46493512, 0.0]])
    Z2 = np.array([[0.53035547, 5.94892323, 2.31780174, 3.16005701, 0.53035547],
                   [-0.69166075, -3.47645987, -2.25194702, -2.65416996, -0.69166075],
                   [-0.39675353, -4.62285846, -2.61101729, -3.22874921, -0.39675353]])
    A2 = np.array([[0.53035547, 5.94892323, 2.31780174, 3.16005701, 0.53035547],
                   [0.0, 0.0, 0.0, 0.0, 0.0],
                   [0.0, 0.0, 0.0, 0.0, 0.0]])
    Z3 = np.array([[-0.3771104, -4.10060224, -1.60539468, -2.18416951, -0.3771104]])
    A3 = np.array([[0.40682402, 0.01629284, 0.16722898, 0.10118111, 0.40682402]])
    cache = (Z1, A1, np.array(_REG_W1), np.array(_REG_B1),
             Z2, A2, np.array(_REG_W2), np.array(_REG_B2),
             Z3, A3, np.array(_REG_W3), np.array(_REG_B3))
    return X, Y, cache


def forward_propagation_with_dropout_test_case():
    """Course helper ``forward_propagation_with_dropout_test_case()``.

    Returns
    -------
    X, parameters
        Seed 1: X = randn(3, 5), then the parameters of a 3-2-3-1 network.
    """
    np.random.seed(1)
    X = np.random.randn(3, 5)
    parameters = _three_layer_params_seed1()
    return X, parameters


def backward_propagation_with_dropout_test_case():
    """Course helper ``backward_propagation_with_dropout_test_case()``.

    Returns
    -------
    X, Y, cache
        X = randn(3, 5) from seed 1, Y = [[1, 1, 0, 1, 0]] and the course's literal
        14-entry cache (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3) with
        boolean masks.
    """
    np.random.seed(1)
    X = np.random.randn(3, 5)
    Y = np.array(_REG_Y)
    D1 = np.array([[True, False, True, True, True],
                   [True, True, True, True, False]])
    A1 = np.array([[0.0, 0.0, 4.27989081, 5.21401307, 0.0],
                   [0.0, 8.32019881, 1.58102041, 2.92987024, 0.0]])
    Z2 = np.array([[0.53035547, 8.02565606, 4.10524802, 5.78975856, 0.53035547],
                   [-0.69166075, -1.71413186, -3.81223329, -4.61667916, -0.69166075],
                   [-0.39675353, -2.62563561, -4.82528105, -6.0607449, -0.39675353]])
    D2 = np.array([[True, False, True, False, True],
                   [False, True, False, True, True],
                   [False, False, True, False, False]])
    A2 = np.array([[1.06071093, 0.0, 8.21049603, 0.0, 1.06071093],
                   [0.0, 0.0, 0.0, 0.0, 0.0],
                   [0.0, 0.0, 0.0, 0.0, 0.0]])
    Z3 = np.array([[-0.7415562, -0.0126646, -5.65469333, -0.0126646, -0.7415562]])
    A3 = np.array([[0.32266394, 0.49683389, 0.00348883, 0.49683389, 0.32266394]])
    cache = (np.array(_REG_Z1), D1, A1, np.array(_REG_W1), np.array(_REG_B1),
             Z2, D2, A2, np.array(_REG_W2), np.array(_REG_B2),
             Z3, A3, np.array(_REG_W3), np.array(_REG_B3))
    return X, Y, cache


# --------------------------------------------------------------------------------------
# Gradient checking (course 2, week 1)
# --------------------------------------------------------------------------------------

def gradient_check_n_test_case():
    """Course helper ``gradient_check_n_test_case()``.

    Returns
    -------
    X, Y, parameters
        Seed 1: X = randn(4, 3), Y = array([1, 1, 0]) (1-D, as the course), then
        W1 (5,4), b1 (5,1), W2 (3,5), b2 (3,1), W3 (1,3), b3 (1,1).
    """
    np.random.seed(1)
    X = np.random.randn(4, 3)
    Y = np.array([1, 1, 0])
    parameters = {}
    for name, shape in (("W1", (5, 4)), ("b1", (5, 1)), ("W2", (3, 5)), ("b2", (3, 1)),
                        ("W3", (1, 3)), ("b3", (1, 1))):
        parameters[name] = np.random.randn(*shape)
    return X, Y, parameters


# --------------------------------------------------------------------------------------
# Planar data classification with one hidden layer (course 1, week 3), seed 003 variant
# --------------------------------------------------------------------------------------

# The course's seed-2 initialisation of a 2-4-1 network, used as literal test parameters.
_PLANAR_W1 = [[-0.00416758, -0.00056267],
              [-0.02136196, 0.01640271],
              [-0.01793436, -0.00841747],
              [0.00502881, -0.01245288]]
_PLANAR_W2 = [[-0.01057952, -0.00909008, 0.00551454, 0.02292208]]

# Parameters after some training, used by the update and predict test cases.
_PLANAR_TRAINED = {
    "W1": [[-0.00615039, 0.0169021],
           [-0.02311792, 0.03137121],
           [-0.0169217, -0.01752545],
           [0.00935436, -0.05018221]],
    "W2": [[-0.0104319, -0.04019007, 0.01607211, 0.04440255]],
    "b1": [[-8.97523455e-07], [8.15562092e-06], [6.04810633e-07], [-2.54560700e-06]],
    "b2": [[9.14954378e-05]],
}

_PLANAR_A2 = [[0.5002307, 0.49985831, 0.50023963]]


def _planar_initial_parameters():
    return {"W1": np.array(_PLANAR_W1), "W2": np.array(_PLANAR_W2),
            "b1": np.zeros((4, 1)), "b2": np.zeros((1, 1))}


def planar_layer_sizes_test_case():
    """Course helper ``layer_sizes_test_case()`` (seed 003 variant: seed 2030).

    Returns
    -------
    X, Y
        X = randn(5, 3), Y = randn(2, 3).
    """
    np.random.seed(2030)
    X = np.random.randn(5, 3)
    Y = np.random.randn(2, 3)
    return X, Y


def planar_initialize_parameters_test_case():
    """Course helper ``initialize_parameters_test_case()``: (n_x, n_h, n_y) = (2, 4, 1)."""
    return 2, 4, 1


def planar_forward_propagation_test_case():
    """Course helper ``forward_propagation_test_case()`` (seed 003 variant: seed 2030).

    Returns
    -------
    X, parameters
        X = randn(2, 3) from seed 2030; literal W1 (4, 2), W2 (1, 4), zero biases.
    """
    np.random.seed(2030)
    X = np.random.randn(2, 3)
    return X, _planar_initial_parameters()


def planar_compute_cost_test_case():
    """Course helper ``compute_cost_test_case()`` (seed 003 variant: seed 2030).

    Returns
    -------
    A2, Y, parameters
        Literal A2 (1, 3), real-valued Y = randn(1, 3) from seed 2030, the literal
        parameters.
    """
    np.random.seed(2030)
    Y = np.random.randn(1, 3)
    return np.array(_PLANAR_A2), Y, _planar_initial_parameters()


def planar_backward_propagation_test_case():
    """Course helper ``backward_propagation_test_case()`` (seed 003 variant: seed 2030).

    Returns
    -------
    parameters, cache, X, Y
        Literal parameters and cache dict (Z1, A1, Z2, A2); X = randn(2, 3) and
        real-valued Y = randn(1, 3) from seed 2030.
    """
    np.random.seed(2030)
    X = np.random.randn(2, 3)
    Y = np.random.randn(1, 3)
    cache = {
        "A1": np.array([[-0.00616578, 0.0020626, 0.00349619],
                        [-0.05225116, 0.02725659, -0.02646251],
                        [-0.02009721, 0.0036869, 0.02883756],
                        [0.02152675, -0.01385234, 0.02599885]]),
        "A2": np.array(_PLANAR_A2),
        "Z1": np.array([[-0.00616586, 0.0020626, 0.0034962],
                        [-0.05229879, 0.02726335, -0.02646869],
                        [-0.02009991, 0.00368692, 0.02884556],
                        [0.02153007, -0.01385322, 0.02600471]]),
        "Z2": np.array([[0.00092281, -0.00056678, 0.00095853]]),
    }
    return _planar_initial_parameters(), cache, X, Y


def planar_update_parameters_test_case():
    """Course helper ``update_parameters_test_case()`` (literal arrays, no draws).

    Returns
    -------
    parameters, grads
    """
    parameters = {key: np.array(value) for key, value in _PLANAR_TRAINED.items()}
    grads = {
        "dW1": np.array([[0.00023322, -0.00205423],
                         [0.00082222, -0.00700776],
                         [-0.00031831, 0.0028636],
                         [-0.00092857, 0.00809933]]),
        "dW2": np.array([[-1.75740039e-05, 3.70231337e-03,
                          -1.25683095e-03, -2.55715317e-03]]),
        "db1": np.array([[1.05570087e-07], [-3.81814487e-06],
                         [-1.90155145e-07], [5.46467802e-07]]),
        "db2": np.array([[-1.08923140e-05]]),
    }
    return parameters, grads


def planar_predict_test_case():
    """Course helper ``predict_test_case()`` (seed 003 variant: seed 2030).

    Returns
    -------
    parameters, X
        The literal trained parameters and X = randn(2, 3) from seed 2030.
    """
    np.random.seed(2030)
    X = np.random.randn(2, 3)
    parameters = {key: np.array(value) for key, value in _PLANAR_TRAINED.items()}
    return parameters, X
