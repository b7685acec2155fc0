"""The optimization methods' names and parameters: what the command line offers, without loading
the optimizers (nor numpy) to say it."""

FIRST_ORDER = ("gd", "momentum", "nesterov", "adam")
SCIPY_METHODS = ("lbfgs", "bfgs", "newton-cg", "trust-ncg")
METHODS = FIRST_ORDER + SCIPY_METHODS
BOUNDED_METHODS = (*FIRST_ORDER, "lbfgs")
DEFAULT_LR = {"gd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adam": 0.001}
# Each method's own parameters and their defaults (lr: see DEFAULT_LR).
PARAMETERS = {
    "gd": {"lr": None},
    "momentum": {"lr": None, "momentum": 0.9},
    "nesterov": {"lr": None, "momentum": 0.9},
    "adam": {"lr": None, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}
