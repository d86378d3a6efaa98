"""Acceptance: PyTorch's channels-last tutorial (intermediate_source/memory_format_tutorial.py)
runs on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed. The cuDNN half
precision cell runs on the CPU in float32 (its ``if torch.backends.cudnn.version() >= 7603``
is ``if True``, ``.cuda().half()`` and ``device="cuda"`` are dropped); one model call is added
while the tutorial's channels-last checker wraps every ``torch`` function.
"""
# The tutorials' code is kept verbatim, long lines included.
# ruff: noqa: E501

from acceptance_runner import run

MEMORY_FORMAT = r'''
import torch

N, C, H, W = 10, 3, 32, 32
x = torch.empty(N, C, H, W)
print(x.stride())  # Ouputs: (3072, 1024, 32, 1)
x = x.to(memory_format=torch.channels_last)
print(x.shape)  # Outputs: (10, 3, 32, 32) as dimensions order preserved
print(x.stride())  # Outputs: (3072, 1, 96, 3)
x = x.to(memory_format=torch.contiguous_format)
print(x.stride())  # Outputs: (3072, 1024, 32, 1)
x = x.contiguous(memory_format=torch.channels_last)
print(x.stride())  # Ouputs: (3072, 1, 96, 3)
print(x.is_contiguous(memory_format=torch.channels_last))  # Ouputs: True
special_x = torch.empty(4, 1, 4, 4)
print(special_x.is_contiguous(memory_format=torch.channels_last))  # Ouputs: True
print(special_x.is_contiguous(memory_format=torch.contiguous_format))  # Ouputs: True
x = torch.empty(N, C, H, W, memory_format=torch.channels_last)
print(x.stride())  # Ouputs: (3072, 1, 96, 3)
y = x.clone()
print(y.stride())  # Ouputs: (3072, 1, 96, 3)
if torch.cuda.is_available():
    y = x.cuda()
    print(y.stride())  # Ouputs: (3072, 1, 96, 3)
y = torch.empty_like(x)
print(y.stride())  # Ouputs: (3072, 1, 96, 3)
z = x + y
print(z.stride())  # Ouputs: (3072, 1, 96, 3)

if True:  # CPU stand-in for the cudnn block
    model = torch.nn.Conv2d(8, 4, 3)
    model = model.to(memory_format=torch.channels_last)  # Module parameters need to be channels last

    input = torch.randint(1, 10, (2, 8, 4, 4), dtype=torch.float32, requires_grad=True)
    input = input.to(device="cpu", memory_format=torch.channels_last, dtype=torch.float32)

    out = model(input)
    print(out.is_contiguous(memory_format=torch.channels_last))  # Ouputs: True

model = model.to(memory_format=torch.channels_last)  # Replace with your model
input = input.to(memory_format=torch.channels_last)  # Replace with your input
output = model(input)
print(output.stride())

def contains_cl(args):
    for t in args:
        if isinstance(t, torch.Tensor):
            if t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous():
                return True
        elif isinstance(t, list) or isinstance(t, tuple):
            if contains_cl(list(t)):
                return True
    return False


def print_inputs(args, indent=""):
    for t in args:
        if isinstance(t, torch.Tensor):
            print(indent, t.stride(), t.shape, t.device, t.dtype)
        elif isinstance(t, list) or isinstance(t, tuple):
            print(indent, type(t))
            print_inputs(list(t), indent=indent + "    ")
        else:
            print(indent, t)


def check_wrapper(fn):
    name = fn.__name__

    def check_cl(*args, **kwargs):
        was_cl = contains_cl(args)
        try:
            result = fn(*args, **kwargs)
        except Exception as e:
            print("`{}` inputs are:".format(name))
            print_inputs(args)
            print("-------------------")
            raise e
        failed = False
        if was_cl:
            if isinstance(result, torch.Tensor):
                if result.dim() == 4 and not result.is_contiguous(memory_format=torch.channels_last):
                    print(
                        "`{}` got channels_last input, but output is not channels_last:".format(name),
                        result.shape,
                        result.stride(),
                        result.device,
                        result.dtype,
                    )
                    failed = True
        if failed and True:
            print("`{}` inputs are:".format(name))
            print_inputs(args)
            raise Exception("Operator `{}` lost channels_last property".format(name))
        return result

    return check_cl


old_attrs = dict()


def attribute(m):
    old_attrs[m] = dict()
    for i in dir(m):
        e = getattr(m, i)
        exclude_functions = ["is_cuda", "has_names", "numel", "stride", "Tensor", "is_contiguous", "__class__"]
        if i not in exclude_functions and not i.startswith("_") and "__call__" in dir(e):
            try:
                old_attrs[m][i] = e
                setattr(m, i, check_wrapper(e))
            except Exception as e:
                print(i)
                print(e)


attribute(torch.Tensor)
attribute(torch.nn.functional)
attribute(torch)

# (not in the tutorial) run the model with the checks on
checked_out = model(input)
checked_relu = torch.nn.functional.relu(checked_out)

for (m, attrs) in old_attrs.items():
    for (k, v) in attrs.items():
        setattr(m, k, v)
'''

EXPECTED = """(3072, 1024, 32, 1)
torch.Size([10, 3, 32, 32])
(3072, 1, 96, 3)
(3072, 1024, 32, 1)
(3072, 1, 96, 3)
True
True
True
(3072, 1, 96, 3)
(3072, 1, 96, 3)
(3072, 1, 96, 3)
(3072, 1, 96, 3)
True
(16, 1, 8, 4)
"""


def test_memory_format():
    ns = run(MEMORY_FORMAT)
    # the strides PyTorch prints (the tutorial's "Outputs:" comments), line for line
    assert ns["_stdout"] == EXPECTED
    assert ns["checked_out"].stride() == (16, 1, 8, 4)
    assert ns["checked_relu"].is_contiguous(memory_format=ns["torch"].channels_last)
    # the checker's wrappers were all removed again
    assert ns["torch"].add.__name__ == "add"
