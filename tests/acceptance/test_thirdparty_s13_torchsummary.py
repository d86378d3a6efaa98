"""Acceptance: sksq96/pytorch-summary (github.com/sksq96/pytorch-summary, MIT licence,
(c) 2018 Shubham Chandel) runs unchanged on ember.

``torchsummary/torchsummary.py`` (commit 02e6a4dc13df75705921ba03842459df79577fdc) is kept
verbatim: forward hooks registered through ``model.apply`` and removed by their handles,
``str(module.__class__)`` parsed for the layer name, ``torch.prod(torch.LongTensor(...))``
parameter counts summed as 0-d tensors and printed with ``"{0:,}".format``, inputs made by
``torch.rand(...).type(torch.FloatTensor)`` (or ``LongTensor``) ``.to(device=...)``, a
``torch.device('cuda:0')`` default argument, ``np.prod`` of shapes and ``"%0.2f" %`` of tensors.
The printed table and the returned counts are compared with real PyTorch's on the same models.
"""

# The project's code is kept verbatim, long lines included.
# ruff: noqa: E501, E711, E712, F401

import pytest
from acceptance_runner import _sibling_modules, run

# torchsummary/torchsummary.py at commit 02e6a4dc13df75705921ba03842459df79577fdc
TORCHSUMMARY = r'''import torch
import torch.nn as nn
from torch.autograd import Variable

from collections import OrderedDict
import numpy as np


def summary(model, input_size, batch_size=-1, device=torch.device('cuda:0'), dtypes=None):
    result, params_info = summary_string(
        model, input_size, batch_size, device, dtypes)
    print(result)

    return params_info


def summary_string(model, input_size, batch_size=-1, device=torch.device('cuda:0'), dtypes=None):
    if dtypes == None:
        dtypes = [torch.FloatTensor]*len(input_size)

    summary_str = ''

    def register_hook(module):
        def hook(module, input, output):
            class_name = str(module.__class__).split(".")[-1].split("'")[0]
            module_idx = len(summary)

            m_key = "%s-%i" % (class_name, module_idx + 1)
            summary[m_key] = OrderedDict()
            summary[m_key]["input_shape"] = list(input[0].size())
            summary[m_key]["input_shape"][0] = batch_size
            if isinstance(output, (list, tuple)):
                summary[m_key]["output_shape"] = [
                    [-1] + list(o.size())[1:] for o in output if isinstance(o, (list, tuple))
                ]
            else:
                summary[m_key]["output_shape"] = list(output.size())
                summary[m_key]["output_shape"][0] = batch_size

            params = 0
            if hasattr(module, "weight") and hasattr(module.weight, "size"):
                params += torch.prod(torch.LongTensor(list(module.weight.size())))
                summary[m_key]["trainable"] = module.weight.requires_grad
            if hasattr(module, "bias") and hasattr(module.bias, "size"):
                params += torch.prod(torch.LongTensor(list(module.bias.size())))
            summary[m_key]["nb_params"] = params

        if (
            not isinstance(module, nn.Sequential)
            and not isinstance(module, nn.ModuleList)
        ):
            hooks.append(module.register_forward_hook(hook))

    # multiple inputs to the network
    if isinstance(input_size, tuple):
        input_size = [input_size]

    # batch_size of 2 for batchnorm
    x = [torch.rand(2, *in_size).type(dtype).to(device=device)
         for in_size, dtype in zip(input_size, dtypes)]

    # create properties
    summary = OrderedDict()
    hooks = []

    # register hook
    model.apply(register_hook)

    # make a forward pass
    # print(x.shape)
    model(*x)

    # remove these hooks
    for h in hooks:
        h.remove()

    summary_str += "----------------------------------------------------------------" + "\n"
    line_new = "{:>20}  {:>25} {:>15}".format(
        "Layer (type)", "Output Shape", "Param #")
    summary_str += line_new + "\n"
    summary_str += "================================================================" + "\n"
    total_params = 0
    total_output = 0
    trainable_params = 0
    for layer in summary:
        # input_shape, output_shape, trainable, nb_params
        line_new = "{:>20}  {:>25} {:>15}".format(
            layer,
            str(summary[layer]["output_shape"]),
            "{0:,}".format(summary[layer]["nb_params"]),
        )
        total_params += summary[layer]["nb_params"]

        total_output += np.prod(summary[layer]["output_shape"])
        if "trainable" in summary[layer]:
            if summary[layer]["trainable"] == True:
                trainable_params += summary[layer]["nb_params"]
        summary_str += line_new + "\n"

    # assume 4 bytes/number (float on cuda).
    total_input_size = abs(np.prod(sum(input_size, ()))
                           * batch_size * 4. / (1024 ** 2.))
    total_output_size = abs(2. * total_output * 4. /
                            (1024 ** 2.))  # x2 for gradients
    total_params_size = abs(total_params * 4. / (1024 ** 2.))
    total_size = total_params_size + total_output_size + total_input_size

    summary_str += "================================================================" + "\n"
    summary_str += "Total params: {0:,}".format(total_params) + "\n"
    summary_str += "Trainable params: {0:,}".format(trainable_params) + "\n"
    summary_str += "Non-trainable params: {0:,}".format(total_params -
                                                        trainable_params) + "\n"
    summary_str += "----------------------------------------------------------------" + "\n"
    summary_str += "Input size (MB): %0.2f" % total_input_size + "\n"
    summary_str += "Forward/backward pass size (MB): %0.2f" % total_output_size + "\n"
    summary_str += "Params size (MB): %0.2f" % total_params_size + "\n"
    summary_str += "Estimated Total Size (MB): %0.2f" % total_size + "\n"
    summary_str += "----------------------------------------------------------------" + "\n"
    # return summary
    return summary_str, (total_params, trainable_params)
'''

# Two models a user would summarise: a CNN with a frozen layer, and a two-input model whose
# GRU returns a tuple (torchsummary lists no shape for it) fed with LongTensor token ids.
MODELS = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchsummary import summary, summary_string


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 8, 3), nn.ReLU())
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(8 * 4 * 4, 10)
        self.fc.weight.requires_grad_(False)

    def forward(self, x):
        return F.log_softmax(self.fc(self.drop(self.features(x).flatten(1))), dim=1)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 4)
        self.gru = nn.GRU(4, 5, batch_first=True)
        self.blocks = nn.ModuleList([nn.Linear(5 + 3, 6), nn.Linear(6, 2)])

    def forward(self, tokens, extra):
        out, _ = self.gru(self.embed(tokens))
        h = torch.cat([out[:, -1], extra], 1)
        for block in self.blocks:
            h = block(h)
        return h


net_params = summary(Net(), (1, 12, 12), device="cpu")
two_text, two_params = summary_string(TwoInputs(), [(7,), (3,)], batch_size=4, device=torch.device("cpu"),
                                      dtypes=[torch.LongTensor, torch.FloatTensor])
"""


def test_summary_tables_match_torch():
    torch = pytest.importorskip("torch")
    ns = run(MODELS, modules={"torchsummary": TORCHSUMMARY})
    printed = []
    ref = {"__name__": "summary_harness"}
    with _sibling_modules({"torchsummary": TORCHSUMMARY}, printed.append):
        exec(compile(MODELS, "<harness>", "exec"), ref)
    assert ref["torch"] is torch
    assert ns["_stdout"] == printed[0] + "\n"
    assert "Conv2d-1" in printed[0] and "Non-trainable params: 1,290" in printed[0]
    assert ns["two_text"] == ref["two_text"]
    assert "GRU-2" in ns["two_text"] and "Linear-4" in ns["two_text"]
    for got, want in ((ns["net_params"], ref["net_params"]), (ns["two_params"], ref["two_params"])):
        assert [int(v) for v in got] == [int(v) for v in want]
        assert all(v.dtype == ns["torch"].int64 for v in got)
