"""``torch._subclasses``: PyTorch's tensor subclasses for tracing (fake tensors). ember traces
without them, so this package only answers the questions libraries ask about a tensor."""
