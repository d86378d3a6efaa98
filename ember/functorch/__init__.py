"""``functorch``, the package PyTorch ships beside ``torch`` (``python -m ember.compat`` resolves
it here): the function transforms of ``torch.func`` and the older ``make_functional`` API.
Its first-class dimensions (``functorch.dim``) are a C extension that ember does not have."""
from ember._functorch.make_functional import (  # noqa: F401
    FunctionalModule,
    FunctionalModuleWithBuffers,
    make_functional,
    make_functional_with_buffers,
)
from ember.func import (  # noqa: F401
    functionalize,
    grad,
    grad_and_value,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    vjp,
    vmap,
)
from ember.version import __version__  # noqa: F401
