"""``ember.onnx``: importable (as scripts import ``torch.onnx``), export refused clearly."""
import pytest

import ember


def test_onnx_module_is_importable_and_not_exporting():
    import ember.onnx
    assert ember.onnx is ember.onnx
    assert ember.onnx.is_in_onnx_export() is False


def test_onnx_export_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="ONNX"):
        ember.onnx.export(ember.nn.Linear(2, 2), (ember.zeros(1, 2),), "model.onnx")
