"""``ember.legacy.optim``: Lua Torch's functional optimizers,
``x, losses = optim.sgd(opfunc, x, config, state)``."""
from ember.legacy.optim.cg import cg  # noqa: F401
from ember.legacy.optim.first_order import (  # noqa: F401
    adadelta,
    adagrad,
    adam,
    adamax,
    asgd,
    nag,
    rmsprop,
    rprop,
    sgd,
)
from ember.legacy.optim.lbfgs import lbfgs, lswolfe  # noqa: F401
