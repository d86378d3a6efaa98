"""``ember.linalg``: PyTorch's linear-algebra namespace."""
from ember.ops.linalg import (  # noqa: F401
                              cholesky,
                              cross,
                              det,
                              eigh,
                              inverse,
                              matrix_norm,
                              matrix_power,
                              multi_dot,
                              pinv,
                              qr,
                              slogdet,
                              solve,
                              svd,
                              svdvals,
                              vector_norm,
)
from ember.ops.reduce import norm  # noqa: F401

inv = inverse
