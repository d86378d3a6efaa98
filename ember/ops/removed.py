"""Functions PyTorch removed in 1.9 but still defines, only to say what replaces them."""
from __future__ import annotations

_REMOVED = "This function was deprecated since version 1.9 and is now removed."


def lstsq(input, A, *, out=None):
    """Removed: use ``ember.linalg.lstsq(A, B).solution`` (arguments reversed)."""
    raise RuntimeError(f"{_REMOVED} `torch.lstsq` is deprecated in favor of "
                       "`torch.linalg.lstsq`, which takes its arguments in the reverse order "
                       "and returns the residuals in its `residuals` field:\n"
                       "X = torch.linalg.lstsq(A, B).solution")


def solve(input, A, *, out=None):
    """Removed: use ``ember.linalg.solve(A, B)`` (arguments reversed)."""
    raise RuntimeError(f"{_REMOVED} `torch.solve` is deprecated in favor of "
                       "`torch.linalg.solve`, which takes its arguments in the reverse order "
                       "and does not return the LU factorization (see `torch.lu`):\n"
                       "X = torch.linalg.solve(A, B)")


def eig(self, eigenvectors: bool = False, *, e=None, v=None):
    """Removed: use ``ember.linalg.eig`` / ``eigvals`` (complex results)."""
    raise RuntimeError(f"{_REMOVED} `torch.linalg.eig` returns complex tensors of dtype "
                       "`cfloat` or `cdouble` rather than real tensors mimicking complex "
                       "tensors:\nL_complex = torch.linalg.eigvals(A)\n"
                       "L_complex, V_complex = torch.linalg.eig(A)")


def symeig(input, eigenvectors: bool = False, upper: bool = True, *, out=None):
    """Removed: use ``ember.linalg.eigvalsh`` / ``eigh`` (lower triangle by default)."""
    raise RuntimeError(f"{_REMOVED} The default behavior has changed from using the upper "
                       "triangular portion of the matrix by default to using the lower "
                       "triangular portion:\nL = torch.linalg.eigvalsh(A, UPLO='U' if upper "
                       "else 'L')\nL, V = torch.linalg.eigh(A, UPLO='U' if upper else 'L')")


def matrix_rank(input, tol=None, symmetric: bool = False, *, out=None):
    """Removed: use ``ember.linalg.matrix_rank`` (``symmetric`` is now ``hermitian``)."""
    raise RuntimeError(f"{_REMOVED}\nPlease use the `torch.linalg.matrix_rank` function "
                       "instead. The parameter 'symmetric' was renamed in "
                       "`torch.linalg.matrix_rank()` to 'hermitian'.")
