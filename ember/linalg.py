"""``ember.linalg``: PyTorch's linear-algebra namespace."""
from ember import return_types
from ember._tensor import Tensor
from ember.ops._util import write_result
from ember.ops.decomposition import (  # noqa: F401
    LinAlgError,
    cholesky_ex,
    cond,
    eig,
    eigh,
    eigvals,
    eigvalsh,
    inv_ex,
    lstsq,
    lu,
    lu_factor,
    lu_factor_ex,
    lu_solve,
    matrix_exp,
    matrix_norm,
    matrix_rank,
    pinv,
    qr,
    solve_ex,
    solve_triangular,
    svdvals,
    tensorinv,
    tensorsolve,
    vecdot,
)
from ember.ops.decomposition import linalg_cholesky as cholesky  # noqa: F401
from ember.ops.decomposition import linalg_diagonal as diagonal  # noqa: F401
from ember.ops.decomposition import linalg_inv as inv  # noqa: F401
from ember.ops.decomposition import linalg_norm as norm  # noqa: F401
from ember.ops.decomposition import linalg_solve as solve  # noqa: F401
from ember.ops.decomposition import linalg_svd as svd  # noqa: F401
from ember.ops.householder import (  # noqa: F401
    householder_product,
    ldl_factor,
    ldl_factor_ex,
    ldl_solve,
)
from ember.ops.linalg import det as _det
from ember.ops.linalg import (  # noqa: F401
    inverse,
    matmul,
    matrix_power,
    multi_dot,
    vector_norm,
)
from ember.ops.linalg import linalg_cross as cross  # noqa: F401
from ember.ops.linalg import slogdet as _slogdet
from ember.ops.reshaping import linalg_vander as vander  # noqa: F401


def slogdet(A: Tensor, *, out=None):
    """(sign, log|det|) of each square matrix in ``A``, as ``torch.linalg.slogdet``'s own
    named tuple (``torch.slogdet`` returns the same fields under another type name)."""
    result = return_types.linalg_slogdet(*_slogdet(A))
    return result if out is None else write_result(out, result)


def det(A: Tensor, *, out=None) -> Tensor:
    """The determinant of each square matrix in ``A`` (``torch.det`` under ``torch.linalg``'s
    argument name)."""
    return _det(A, out=out)
