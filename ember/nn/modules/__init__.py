"""The layer catalogue: every Module subclass under PyTorch's names."""
# ruff: noqa: I001  (the order is deliberate: Module first, then the layers)
from ember.nn.modules.module import Module  # noqa: F401  isort: skip
from ember.nn.modules.activation import (  # noqa: F401
    CELU, ELU, GELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU,
    LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, RReLU, Sigmoid, SiLU, Softmax, Softmax2d,
    Softmin, Softplus, Softshrink, Softsign, Tanh, Tanhshrink, Threshold)
from ember.nn.modules.container import (ModuleDict, ModuleList, ParameterDict,  # noqa: F401
                                        ParameterList, Sequential)
from ember.nn.modules.distance import CosineSimilarity, PairwiseDistance  # noqa: F401
from ember.nn.modules.dropout import (  # noqa: F401
    AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout)
from ember.nn.modules.flatten import Flatten, Unflatten  # noqa: F401
from ember.nn.modules.linear import Bilinear, Identity, Linear  # noqa: F401
from ember.nn.modules.linear_cross_entropy import LinearCrossEntropyLoss  # noqa: F401
from ember.nn.modules.loss import (  # noqa: F401
    BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, CTCLoss,
    GaussianNLLLoss, HingeEmbeddingLoss, HuberLoss, KLDivLoss, L1Loss, MarginRankingLoss,
    MSELoss, MultiLabelMarginLoss, MultiLabelSoftMarginLoss, MultiMarginLoss, NLLLoss,
    PoissonNLLLoss, SmoothL1Loss, SoftMarginLoss, TripletMarginLoss,
    TripletMarginWithDistanceLoss)
from ember.nn.modules.normalization import (  # noqa: F401
    BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d, InstanceNorm2d,
    InstanceNorm3d, LayerNorm, LocalResponseNorm, RMSNorm)
from ember.nn.modules.sparse import Embedding, EmbeddingBag  # noqa: F401
from ember.nn.modules.lazy import (  # noqa: F401
    LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyConv1d, LazyConv2d, LazyConv3d,
    LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d, LazyInstanceNorm1d,
    LazyInstanceNorm2d, LazyInstanceNorm3d, LazyLinear)
from ember.nn.modules.batchnorm import SyncBatchNorm  # noqa: F401
from ember.nn.modules.adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: F401
from ember.nn.modules.channelshuffle import ChannelShuffle  # noqa: F401
from ember.nn.modules.crossmaplrn import CrossMapLRN2d  # noqa: F401
from ember.nn.modules.deprecated import Container, NLLLoss2d  # noqa: F401
from ember.nn.modules import (  # noqa: F401  (PyTorch's module paths)
    adaptive, batchnorm, channelshuffle, instancenorm, lazy, linear_cross_entropy)
# ember.nn.modules.utils is not imported here: the star import of ember.nn would make it
# shadow ember.nn.utils

# --- spatial and sequence layers (nn-spatial) ---
from ember.nn.modules._spatial import *  # noqa: F401,F403
