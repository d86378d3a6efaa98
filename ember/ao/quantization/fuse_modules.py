"""``fuse_modules``: replace a run of modules (conv-bn, conv-bn-relu, conv-relu, linear-relu,
...) by one fused module, the others by ``Identity``."""
from __future__ import annotations

import copy

from ember import nn
from ember.ao.nn import intrinsic as nni
from ember.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

__all__ = ["fuse_modules", "fuse_modules_qat", "fuse_known_modules", "fuse_conv_bn",
           "fuse_conv_bn_relu", "fuse_linear_bn", "get_fuser_method"]

_CONV_RELU = {nn.Conv1d: nni.ConvReLU1d, nn.Conv2d: nni.ConvReLU2d, nn.Conv3d: nni.ConvReLU3d}
_CONV_BN = {nn.Conv1d: nni.ConvBn1d, nn.Conv2d: nni.ConvBn2d, nn.Conv3d: nni.ConvBn3d}
_CONV_BN_RELU = {nn.Conv1d: nni.ConvBnReLU1d, nn.Conv2d: nni.ConvBnReLU2d,
                 nn.Conv3d: nni.ConvBnReLU3d}


def _same_mode(*mods) -> None:
    if len({m.training for m in mods}) != 1:
        raise AssertionError("Conv and BN both must be in the same mode (train or eval).")


def fuse_conv_bn(is_qat: bool, conv, bn):
    """conv + bn: a ``ConvBn`` to train (QAT), else the conv with the bn folded in (eval)."""
    _same_mode(conv, bn)
    if is_qat:
        return _CONV_BN[type(conv)](conv, bn)
    return fuse_conv_bn_eval(conv, bn)


def fuse_conv_bn_relu(is_qat: bool, conv, bn, relu):
    """conv + bn + relu: a ``ConvBnReLU`` (QAT), else ``ConvReLU`` of the folded conv."""
    _same_mode(conv, bn)
    if is_qat:
        return _CONV_BN_RELU[type(conv)](conv, bn, relu)
    return _CONV_RELU[type(conv)](fuse_conv_bn_eval(conv, bn), relu)


def fuse_linear_bn(is_qat: bool, linear, bn):
    _same_mode(linear, bn)
    if is_qat:
        return nni.LinearBn1d(linear, bn)
    return fuse_linear_bn_eval(linear, bn)


def _sequential(fused_cls):
    return lambda is_qat, *mods: fused_cls(*mods)


_FUSERS = {
    (nn.Conv1d, nn.BatchNorm1d): fuse_conv_bn,
    (nn.Conv2d, nn.BatchNorm2d): fuse_conv_bn,
    (nn.Conv3d, nn.BatchNorm3d): fuse_conv_bn,
    (nn.Conv1d, nn.BatchNorm1d, nn.ReLU): fuse_conv_bn_relu,
    (nn.Conv2d, nn.BatchNorm2d, nn.ReLU): fuse_conv_bn_relu,
    (nn.Conv3d, nn.BatchNorm3d, nn.ReLU): fuse_conv_bn_relu,
    (nn.Conv1d, nn.ReLU): _sequential(nni.ConvReLU1d),
    (nn.Conv2d, nn.ReLU): _sequential(nni.ConvReLU2d),
    (nn.Conv3d, nn.ReLU): _sequential(nni.ConvReLU3d),
    (nn.Linear, nn.BatchNorm1d): fuse_linear_bn,
    (nn.Linear, nn.ReLU): _sequential(nni.LinearReLU),
    (nn.BatchNorm2d, nn.ReLU): _sequential(nni.BNReLU2d),
    (nn.BatchNorm3d, nn.ReLU): _sequential(nni.BNReLU3d),
}


def get_fuser_method(op_list: tuple, additional_fuser_method_mapping=None):
    mapping = {**_FUSERS, **(additional_fuser_method_mapping or {})}
    fuser = mapping.get(op_list)
    if fuser is None:
        raise AssertionError(f"did not find fuser method for: {op_list} ")
    return fuser


def fuse_known_modules(mod_list, is_qat: bool, additional_fuser_method_mapping=None) -> list:
    """The fused module first, then an ``Identity`` for each other module of ``mod_list``."""
    types = tuple(type(m) for m in mod_list)
    fused = get_fuser_method(types, additional_fuser_method_mapping)(is_qat, *mod_list)
    # The fused module keeps the first module's pre-hooks and the last one's hooks.
    for hook in mod_list[0]._forward_pre_hooks.values():
        fused.register_forward_pre_hook(hook)
    for hook in mod_list[-1]._forward_hooks.values():
        fused.register_forward_hook(hook)
    return [fused] + [nn.Identity() for _ in mod_list[1:]]


def _get_module(model, name: str):
    for part in name.split("."):
        model = getattr(model, part)
    return model


def _set_module(model, name: str, module) -> None:
    *parents, last = name.split(".")
    for part in parents:
        model = getattr(model, part)
    setattr(model, last, module)


def _fuse(model, modules_to_fuse, is_qat: bool, inplace: bool, fuser_func,
          fuse_custom_config_dict):
    if not inplace:
        model = copy.deepcopy(model)
    if all(isinstance(m, str) for m in modules_to_fuse):
        modules_to_fuse = [modules_to_fuse]
    mapping = (fuse_custom_config_dict or {}).get("additional_fuser_method_mapping", {})
    for names in modules_to_fuse:
        mods = [_get_module(model, n) for n in names]
        new_mods = fuser_func(mods, is_qat, mapping)
        for name, new in zip(names, new_mods):
            _set_module(model, name, new)
    return model


def fuse_modules(model, modules_to_fuse, inplace: bool = False,
                 fuser_func=fuse_known_modules, fuse_custom_config_dict=None):
    """Fuse each list of module names in ``modules_to_fuse`` (or the one list given) for
    post-training quantization (the model must be in eval mode where a batch norm folds).

    Example::

        >>> m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()).eval()
        >>> type(fuse_modules(m, ["0", "1", "2"])[0]).__name__
        'ConvReLU2d'
    """
    return _fuse(model, modules_to_fuse, False, inplace, fuser_func, fuse_custom_config_dict)


def fuse_modules_qat(model, modules_to_fuse, inplace: bool = False,
                     fuser_func=fuse_known_modules, fuse_custom_config_dict=None):
    """``fuse_modules`` for quantization-aware training: conv-bn stays a trainable
    ``ConvBn`` (folded by ``prepare_qat``'s modules instead)."""
    return _fuse(model, modules_to_fuse, True, inplace, fuser_func, fuse_custom_config_dict)
