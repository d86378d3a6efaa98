"""The spatial and sequence layer families, gathered for ``ember.nn.modules``' one import."""
from ember.nn.modules.activation_mha import MultiheadAttention  # noqa: F401
from ember.nn.modules.conv import *  # noqa: F401,F403
from ember.nn.modules.fold import Fold, Unfold  # noqa: F401
from ember.nn.modules.padding import *  # noqa: F401,F403
from ember.nn.modules.pixelshuffle import PixelShuffle, PixelUnshuffle  # noqa: F401
from ember.nn.modules.pooling import *  # noqa: F401,F403
from ember.nn.modules.rnn import *  # noqa: F401,F403
from ember.nn.modules.transformer import *  # noqa: F401,F403
from ember.nn.modules.upsampling import *  # noqa: F401,F403
