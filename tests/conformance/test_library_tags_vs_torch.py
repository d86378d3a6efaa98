"""torch.library against PyTorch: Tag's members and the schemas inferred for mutated and tagged
custom operators."""

import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402


def test_tag_members_match():
    assert {t.name: t.value for t in ember.Tag} == \
        {name: int(tag) for name, tag in torch.Tag.__members__.items()}


def _signatures(tensor):
    def out_arg(x: tensor, out: tensor) -> None:
        pass

    def two(x: tensor, y: tensor) -> None:
        pass

    def third(a: tensor, x: tensor, y: tensor) -> None:
        pass

    def inplace(x: tensor, alpha: float = 1.0) -> tensor:
        pass

    def out_kw(x: tensor, *, out: tensor, extra: tensor) -> tuple[tensor, tensor]:
        pass

    return [(out_arg, {"out"}, None), (two, {"x", "y"}, None), (third, {"y"}, None),
            (inplace, {"x"}, "inplace"), (out_kw, ["out", "extra"], "out")]


def test_inferred_schemas_match():
    for (fn_t, mutated, tag), (fn_e, _, _) in zip(_signatures(torch.Tensor),
                                                  _signatures(ember.Tensor)):
        tags_t = () if tag is None else getattr(torch.Tag, tag)
        tags_e = () if tag is None else getattr(ember.Tag, tag)
        assert ember.library.infer_schema(fn_e, mutates_args=mutated, tags=tags_e) == \
            torch.library.infer_schema(fn_t, mutates_args=mutated, tags=tags_t)
