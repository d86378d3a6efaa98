"""HuggingFace peft on ember, where peft is installed (it is not a test dependency: its package
requires PyTorch; .ci/run installs it without). LoRA adapters on tiny random Llama and GPT-2
models (transformers' own code) train with the base frozen, switch off
(``disable_adapter``), round-trip through ``save_pretrained``/``PeftModel.from_pretrained`` and
merge (``merge_and_unload``) into the same outputs; DoRA, IA3, LoKr, LoHa, prompt and prefix
tuning train too, and two named adapters switch; all with ``torch`` resolved to ember in a
fresh interpreter. tests/conformance/test_thirdparty_s16_vs_torch.py compares the numbers with
real PyTorch's."""
from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import textwrap

import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("peft") is None or importlib.util.find_spec("transformers") is None:
    pytest.skip("peft or transformers is not installed", allow_module_level=True)
# transformers releases this was run against (read without importing it, which imports torch)
TESTED = ("4.57", "5.24")
if not importlib.metadata.version("transformers").startswith(TESTED):
    pytest.skip(f"transformers {importlib.metadata.version('transformers')}: checked with "
                f"{TESTED} only", allow_module_level=True)

SCRIPT = textwrap.dedent('''
    import json
    import os
    import tempfile
    import torch
    import transformers as T
    from peft import (IA3Config, LoHaConfig, LoKrConfig, LoraConfig, PeftModel,
                      PrefixTuningConfig, PromptTuningConfig, get_peft_model)

    def maxdiff(a, b):
        return float((a - b).abs().max())

    def train(model, steps):
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                      lr=2e-2)
        ids = torch.randint(0, 99, (2, 12))
        losses = []
        for _ in range(steps):
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            with_grad = sorted(n for n, p in model.named_parameters() if p.grad is not None)
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
        return ids, losses, with_grad

    MODELS = {
        "llama": (T.LlamaConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                num_attention_heads=4, intermediate_size=64,
                                num_key_value_heads=2), T.LlamaForCausalLM,
                  ["q_proj", "v_proj", "down_proj"]),
        "gpt2": (T.GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=100, n_positions=64),
                 T.GPT2LMHeadModel, ["c_attn", "c_fc"]),  # GPT-2's Conv1D: fan_in_fan_out
    }
    report = {}
    for name, (config, cls, targets) in MODELS.items():
        torch.manual_seed(0)
        base = cls(config)
        frozen = {n: p.detach().clone() for n, p in base.named_parameters()}
        model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=targets,
                                                lora_dropout=0.0, task_type="CAUSAL_LM"))
        trainable, total = model.get_nb_trainable_parameters()
        ids, losses, with_grad = train(model, 5)
        model.eval()
        with torch.no_grad():
            adapted = model(input_ids=ids).logits
            with model.disable_adapter():
                plain = model(input_ids=ids).logits
        base_unchanged = all(torch.equal(frozen[n.replace("base_layer.", "")], p)
                             for n, p in model.get_base_model().named_parameters()
                             if "lora_" not in n)
        with tempfile.TemporaryDirectory() as d:
            model.save_pretrained(d)
            files = sorted(os.listdir(d))
            torch.manual_seed(0)
            loaded = PeftModel.from_pretrained(cls(config), d).eval()
            with torch.no_grad():
                reloaded = loaded(input_ids=ids).logits
        merged = model.merge_and_unload()
        with torch.no_grad():
            merged_out = merged(input_ids=ids).logits
            generated = merged.generate(ids[:1, :4], attention_mask=torch.ones_like(ids[:1, :4]),
                                        max_new_tokens=6, do_sample=False, pad_token_id=0)
        report[name] = {
            "trainable": trainable, "total": total, "losses": losses,
            "grads": with_grad, "base_unchanged": base_unchanged,
            "adapted_sum": float(adapted.sum()), "adapted_abs": float(adapted.abs().sum()),
            "adapter_changes_output": maxdiff(adapted, plain),
            "reloaded_diff": maxdiff(adapted, reloaded),
            "merged_diff": maxdiff(adapted, merged_out),
            "merged_type": type(merged).__name__,
            "merged_has_lora": any("lora_" in n for n, _ in merged.named_parameters()),
            "files": files, "generated": generated.tolist()}

    config, cls, _ = MODELS["llama"]
    attention = ["q_proj", "v_proj"]
    variants = {
        "dora": LoraConfig(r=4, lora_alpha=8, target_modules=attention, use_dora=True,
                           task_type="CAUSAL_LM"),
        "lora_dropout_gaussian": LoraConfig(r=4, lora_alpha=8, target_modules=attention,
                                            lora_dropout=0.1, init_lora_weights="gaussian",
                                            modules_to_save=["lm_head"], task_type="CAUSAL_LM"),
        "ia3": IA3Config(target_modules=["k_proj", "v_proj", "down_proj"],
                         feedforward_modules=["down_proj"], task_type="CAUSAL_LM"),
        "lokr": LoKrConfig(r=4, alpha=8, target_modules=attention, task_type="CAUSAL_LM"),
        "loha": LoHaConfig(r=4, alpha=8, target_modules=attention, task_type="CAUSAL_LM"),
        "prompt_tuning": PromptTuningConfig(num_virtual_tokens=4, task_type="CAUSAL_LM"),
        "prefix_tuning": PrefixTuningConfig(num_virtual_tokens=4, task_type="CAUSAL_LM"),
    }
    report["variants"] = {}
    for name, variant in variants.items():
        torch.manual_seed(0)
        model = get_peft_model(cls(config), variant)
        ids, losses, with_grad = train(model, 4)
        entry = {"losses": losses, "trainable": model.get_nb_trainable_parameters()[0],
                 "grads": len(with_grad)}
        model.eval()
        if "tuning" not in name:  # prompts and prefixes have nothing to merge
            with torch.no_grad():
                adapted = model(input_ids=ids).logits
                entry["merged_diff"] = maxdiff(adapted,
                                               model.merge_and_unload()(input_ids=ids).logits)
        report["variants"][name] = entry

    torch.manual_seed(0)
    model = get_peft_model(cls(config), LoraConfig(r=2, target_modules=["q_proj"],
                                                   init_lora_weights=False), adapter_name="a")
    model.add_adapter("b", LoraConfig(r=2, target_modules=["v_proj"], init_lora_weights=False))
    ids = torch.randint(0, 99, (2, 12))
    outputs = {}
    with torch.no_grad():
        for adapter in ("a", "b"):
            model.set_adapter(adapter)
            outputs[adapter] = model(input_ids=ids).logits
    report["two_adapters"] = {"active": model.active_adapter,
                              "differ": maxdiff(outputs["a"], outputs["b"]),
                              "sum_a": float(outputs["a"].sum()),
                              "sum_b": float(outputs["b"].sum())}
    print(json.dumps(report))
''')


# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "peft_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("peft"))


@pytest.mark.parametrize("name", ["llama", "gpt2"])
def test_lora_trains_only_the_adapters(report, name):
    result = report[name]
    assert 0 < result["trainable"] < result["total"] / 10
    assert result["grads"] and all("lora_" in n for n in result["grads"])
    assert result["base_unchanged"]
    assert result["losses"][-1] < result["losses"][0]
    assert result["adapter_changes_output"] > 1e-3  # trained: no longer the base model


@pytest.mark.parametrize("name", ["llama", "gpt2"])
def test_lora_saves_loads_and_merges_into_the_same_outputs(report, name):
    result = report[name]
    assert result["files"] == ["README.md", "adapter_config.json", "adapter_model.safetensors"]
    assert result["reloaded_diff"] == 0.0
    assert result["merged_diff"] < 1e-5
    assert result["merged_type"] == {"llama": "LlamaForCausalLM",
                                     "gpt2": "GPT2LMHeadModel"}[name]
    assert not result["merged_has_lora"]
    assert len(result["generated"][0]) == 10


def test_other_adapters_train_and_merge(report):
    for name, entry in report["variants"].items():
        assert entry["trainable"] > 0 and entry["grads"] > 0, name
        assert entry["losses"][-1] < entry["losses"][0], name
        if "merged_diff" in entry:
            assert entry["merged_diff"] < 1e-5, name


def test_named_adapters_switch(report):
    two = report["two_adapters"]
    assert two["active"] == "b" and two["differ"] > 1e-4
