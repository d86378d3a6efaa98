"""The differentiable ops, by family, and their functional forms (``ember.add`` etc.)."""
from ember._creation import *  # noqa: F401,F403
from ember._creation import range  # noqa: F401  (star-import skips nothing, but be explicit)
from ember.ops._util import wrap_dim  # noqa: F401
from ember.ops.conversion import to  # noqa: F401
from ember.ops.compare import *  # noqa: F401,F403
from ember.ops.elementwise import *  # noqa: F401,F403
from ember.ops.unary import *  # noqa: F401,F403
from ember.ops.fill import *  # noqa: F401,F403
from ember.ops.indexing import *  # noqa: F401,F403
from ember.ops.gather_scatter import *  # noqa: F401,F403
from ember.ops.index_along_dim import *  # noqa: F401,F403
from ember.ops.sorting import *  # noqa: F401,F403
from ember.ops.linalg import *  # noqa: F401,F403
from ember.ops.movement import *  # noqa: F401,F403
from ember.ops.nn import log_softmax, softmax  # noqa: F401
from ember.ops.reduce import *  # noqa: F401,F403


def __getattr__(name: str):
    """``ember.ops.<namespace>``: the custom operators registered under it (ember.library)."""
    from ember.library import op_namespace
    return op_namespace(name)
