"""``ember.ao.quantization``: eager-mode quantization as ``torch.ao.quantization``: observers,
fake quantization, qconfigs, ``fuse_modules``, ``prepare`` / ``convert``, ``prepare_qat`` and
``quantize_dynamic``; FX graph mode quantization in ``quantize_fx`` with ``QConfigMapping``.

Example::

    >>> import ember.nn as nn
    >>> m = nn.Sequential(nn.LSTM(4, 4))
    >>> q = quantize_dynamic(m, {nn.LSTM}, dtype=ember.qint8)
"""
import ember

# ``import torch.quantization`` code reaches ``torch.nn.quantized`` and
# ``torch.nn.intrinsic.qat`` as attributes: load those aliases with it.
import ember.backends.quantized  # noqa: E402,F401
import ember.nn.intrinsic  # noqa: E402,F401
import ember.nn.qat  # noqa: E402,F401
import ember.nn.quantized  # noqa: E402,F401
from ember.ao.quantization import observer, qconfig, quantization_mappings, stubs  # noqa: F401
from ember.ao.quantization.fake_quantize import (  # noqa: F401
    FakeQuantize,
    FakeQuantizeBase,
    FixedQParamsFakeQuantize,
    FusedMovingAvgObsFakeQuantize,
    default_fake_quant,
    default_fixed_qparams_range_0to1_fake_quant,
    default_fixed_qparams_range_neg1to1_fake_quant,
    default_fused_act_fake_quant,
    default_fused_per_channel_wt_fake_quant,
    default_fused_wt_fake_quant,
    default_per_channel_weight_fake_quant,
    default_weight_fake_quant,
    disable_fake_quant,
    disable_observer,
    enable_fake_quant,
    enable_observer,
)
from ember.ao.quantization.fuse_modules import (  # noqa: F401
    fuse_conv_bn,
    fuse_conv_bn_relu,
    fuse_known_modules,
    fuse_linear_bn,
    fuse_modules,
    fuse_modules_qat,
    get_fuser_method,
)
from ember.ao.quantization.observer import (  # noqa: F401
    FixedQParamsObserver,
    HistogramObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
    NoopObserver,
    ObserverBase,
    PerChannelMinMaxObserver,
    PlaceholderObserver,
    UniformQuantizationObserverBase,
    default_dynamic_quant_observer,
    default_fixed_qparams_range_0to1_observer,
    default_fixed_qparams_range_neg1to1_observer,
    default_float_qparams_observer,
    default_histogram_observer,
    default_observer,
    default_per_channel_weight_observer,
    default_placeholder_observer,
    default_weight_observer,
    get_observer_state_dict,
    load_observer_state_dict,
)
from ember.ao.quantization.qconfig import (  # noqa: F401
    QConfig,
    QConfigDynamic,
    default_dynamic_qconfig,
    default_per_channel_qconfig,
    default_qat_qconfig,
    default_qconfig,
    float16_dynamic_qconfig,
    float_qparams_weight_only_qconfig,
    get_default_qat_qconfig,
    get_default_qconfig,
    per_channel_dynamic_qconfig,
    qconfig_equals,
)
from ember.ao.quantization.qconfig_mapping import (  # noqa: F401
    QConfigMapping,
    get_default_qat_qconfig_mapping,
    get_default_qconfig_mapping,
)
from ember.ao.quantization.quantization_mappings import (  # noqa: F401
    DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS,
    DEFAULT_QAT_MODULE_MAPPINGS,
    DEFAULT_STATIC_QUANT_MODULE_MAPPINGS,
    get_default_dynamic_quant_module_mappings,
    get_default_qat_module_mappings,
    get_default_qconfig_propagation_list,
    get_default_static_quant_module_mappings,
)
from ember.ao.quantization.quantize import (  # noqa: F401
    add_quant_dequant,
    convert,
    prepare,
    prepare_qat,
    propagate_qconfig_,
    quantize,
    quantize_dynamic,
    quantize_qat,
    swap_module,
)
from ember.ao.quantization.stubs import DeQuantStub, QuantStub, QuantWrapper  # noqa: F401

__all__ = [name for name in dir() if not name.startswith("_") and name != "ember"]
