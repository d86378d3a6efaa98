"""Tiny random models of HuggingFace transformers' architectures, trained a few steps: run as
``python -m ember.compat transformers_models.py`` (torch = ember) or with real PyTorch, it
prints one JSON line per model (losses, a gradient checksum, greedy generations, a
save/load round trip), for tests/acceptance and tests/conformance to check and compare.

Only transformers' public API is used, as a PyTorch user would; no weights are downloaded.
"""
import json
import os
import sys
import tempfile

import numpy as np
import torch
import transformers as T

STEPS = 4


def ids(low=0, high=99, shape=(2, 12)):
    return torch.randint(low, high, shape)


SMALL = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
             intermediate_size=64)
SEQ2SEQ = dict(vocab_size=100, d_model=32, encoder_layers=2, decoder_layers=2,
               encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
               decoder_ffn_dim=64)
IMAGES = lambda: dict(pixel_values=torch.randn(2, 3, 32, 32), labels=torch.tensor([1, 3]))  # noqa: E731

MODELS = {
    "gpt2": (T.GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=100, n_positions=64),
             T.GPT2LMHeadModel, lambda: dict(input_ids=(i := ids()), labels=i)),
    "bert": (T.BertConfig(**SMALL, num_labels=3), T.BertForSequenceClassification,
             lambda: dict(input_ids=ids(), attention_mask=torch.ones(2, 12, dtype=torch.long),
                          labels=torch.tensor([0, 2]))),
    "bert-mlm": (T.BertConfig(**SMALL), T.BertForMaskedLM,
                 lambda: dict(input_ids=(i := ids()), labels=i)),
    "roberta": (T.RobertaConfig(**SMALL, max_position_embeddings=40), T.RobertaForMaskedLM,
                lambda: dict(input_ids=(i := ids(3)), labels=i)),
    "distilbert": (T.DistilBertConfig(vocab_size=100, dim=32, n_layers=2, n_heads=4,
                                      hidden_dim=64), T.DistilBertForSequenceClassification,
                   lambda: dict(input_ids=ids(), labels=torch.tensor([0, 1]))),
    "llama": (T.LlamaConfig(**SMALL, num_key_value_heads=2), T.LlamaForCausalLM,
              lambda: dict(input_ids=(i := ids()), labels=i)),
    "mistral": (T.MistralConfig(**SMALL, num_key_value_heads=2), T.MistralForCausalLM,
                lambda: dict(input_ids=(i := ids()), labels=i)),
    "t5": (T.T5Config(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                      decoder_start_token_id=0), T.T5ForConditionalGeneration,
           lambda: dict(input_ids=ids(), labels=ids())),
    "bart": (T.BartConfig(**SEQ2SEQ), T.BartForConditionalGeneration,
             lambda: dict(input_ids=ids(), labels=ids())),
    "gpt-neo": (T.GPTNeoConfig(vocab_size=100, hidden_size=32, num_layers=2, num_heads=4,
                               attention_types=[[["global", "local"], 1]],
                               max_position_embeddings=64), T.GPTNeoForCausalLM,
                lambda: dict(input_ids=(i := ids()), labels=i)),
    "whisper": (T.WhisperConfig(**SEQ2SEQ | dict(encoder_layers=1, decoder_layers=1),
                                num_mel_bins=16, max_source_positions=20,
                                max_target_positions=20, pad_token_id=0,
                                decoder_start_token_id=1),
                T.WhisperForConditionalGeneration,
                lambda: dict(input_features=torch.randn(2, 16, 40), labels=ids(2, 99, (2, 6)))),
    "wav2vec2": (T.Wav2Vec2Config(vocab_size=20, hidden_size=32, num_hidden_layers=1,
                                  num_attention_heads=4, intermediate_size=64, conv_dim=(16, 16),
                                  conv_stride=(5, 2), conv_kernel=(10, 3),
                                  num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                                  ctc_loss_reduction="mean"), T.Wav2Vec2ForCTC,
                 lambda: dict(input_values=torch.randn(2, 800), labels=ids(1, 20, (2, 5)))),
    "vit": (T.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, image_size=32, patch_size=8, num_labels=5),
            T.ViTForImageClassification, IMAGES),
    "resnet": (T.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1],
                              num_labels=4), T.ResNetForImageClassification, IMAGES),
    "convnext": (T.ConvNextConfig(num_stages=2, hidden_sizes=[16, 32], depths=[1, 1],
                                  num_labels=4), T.ConvNextForImageClassification, IMAGES),
    "swin": (T.SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1],
                          num_heads=[2, 4], window_size=4, num_labels=4),
             T.SwinForImageClassification, IMAGES),
    "clip": (T.CLIPConfig(text_config=dict(vocab_size=100, hidden_size=32, num_hidden_layers=1,
                                           num_attention_heads=4, intermediate_size=64,
                                           max_position_embeddings=20),
                          vision_config=dict(hidden_size=32, num_hidden_layers=1,
                                             num_attention_heads=4, intermediate_size=64,
                                             image_size=32, patch_size=8), projection_dim=16),
             T.CLIPModel, lambda: dict(input_ids=ids(), pixel_values=torch.randn(2, 3, 32, 32),
                                       return_loss=True)),
}

DECODER = dict(SMALL, num_key_value_heads=2)
CAUSAL_LM = lambda: dict(input_ids=(i := ids()), labels=i)  # noqa: E731
# newer architectures (mixture-of-experts routing, sliding windows, state spaces), where the
# installed transformers has them
LATER = {
    "qwen3": ("Qwen3Config", dict(DECODER, head_dim=8), "Qwen3ForCausalLM"),
    "gemma3": ("Gemma3TextConfig", dict(DECODER, head_dim=8), "Gemma3ForCausalLM"),
    "phi3": ("Phi3Config", dict(DECODER, pad_token_id=0), "Phi3ForCausalLM"),
    "mixtral": ("MixtralConfig", dict(DECODER, num_local_experts=4, num_experts_per_tok=2),
                "MixtralForCausalLM"),
    "qwen3-moe": ("Qwen3MoeConfig", dict(DECODER, num_experts=4, num_experts_per_tok=2,
                                         moe_intermediate_size=16, head_dim=8),
                  "Qwen3MoeForCausalLM"),
    "gpt-oss": ("GptOssConfig", dict(DECODER, num_local_experts=4, num_experts_per_tok=2,
                                     head_dim=8,
                                     layer_types=["sliding_attention", "full_attention"]),
                "GptOssForCausalLM"),
    "mamba": ("MambaConfig", dict(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                  state_size=8), "MambaForCausalLM"),
}
for _name, (_config, _settings, _model) in LATER.items():
    if hasattr(T, _config) and hasattr(T, _model):
        MODELS[_name] = (getattr(T, _config)(**_settings), getattr(T, _model), CAUSAL_LM)


def train(name: str) -> dict:
    config, model_class, make_inputs = MODELS[name]
    torch.manual_seed(0)
    np.random.seed(0)  # wav2vec2 draws its time masks with NumPy
    model = model_class(config)
    inputs = make_inputs()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses, gradsum = [], None
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = model(**inputs).loss
        loss.backward()
        if gradsum is None:
            gradsum = sum(p.grad.abs().sum().item() for p in model.parameters()
                          if p.grad is not None)
        optimizer.step()
        losses.append(loss.item())
    report = {"model": name, "losses": losses, "gradsum": gradsum}
    model.eval()
    if name in ("gpt2", "llama", "t5", "mixtral", "mamba"):
        prompt = inputs["input_ids"][:, :4]
        with torch.no_grad():
            report["generated"] = model.generate(prompt, max_new_tokens=5, do_sample=False,
                                                 pad_token_id=0).tolist()
    if name in ("gpt2", "bert"):
        report["reloaded_equal"] = round_trip(model, model_class, inputs)
    return report


def round_trip(model, model_class, inputs) -> list:
    """Whether a model saved (safetensors, then pickle) and loaded gives the same logits."""
    with torch.no_grad():
        logits = model(**inputs).logits
    equal = []
    with tempfile.TemporaryDirectory() as folder:
        for safe in (True, False):
            path = os.path.join(folder, str(safe))
            model.save_pretrained(path, safe_serialization=safe)
            with torch.no_grad():
                equal.append(torch.equal(model_class.from_pretrained(path)(**inputs).logits,
                                         logits))
    return equal


def main() -> None:
    for name in sys.argv[1:] or MODELS:
        try:
            report = train(name)
        except Exception as error:  # reported, so that one failure does not hide the others
            report = {"model": name, "error": f"{type(error).__name__}: {error}"}
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
