"""Acceptance: "Language Modeling with ``nn.Transformer`` and torchtext"
(beginner_source/transformer_tutorial.py) runs on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed. Reduced: ``emsize``
and ``d_hid`` 200 -> 32, ``bptt`` 35 -> 12, ``log_interval`` 200 -> 2.
WikiText-2 and torchtext are stand-ins with the same API (``WikiText2``, ``get_tokenizer``,
``build_vocab_from_iterator``): lines drawn from a small grammar whose next word is mostly
determined by the previous one, so that one pass of the real training loop learns it.
The model, batching, ``get_batch``, training (SGD lr 5.0, ``StepLR``, ``clip_grad_norm_``),
evaluation and the ``torch.save``/``torch.load`` of the best ``state_dict`` are unchanged.
"""
# The tutorial's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import math
import re

import numpy as np
import pytest
from acceptance_runner import run

import ember

TORCHTEXT_DATASETS = '''
import random

_rng = random.Random(0)
_NEXT = {"the": ["cat", "dog", "bird"], "cat": ["sat"], "dog": ["ran"], "bird": ["flew"],
         "sat": ["on"], "ran": ["to"], "flew": ["over"], "on": ["the"], "to": ["the"],
         "over": ["the"]}


def _line():
    words = ["the"]
    for _ in range(_rng.randint(8, 20)):
        words.append(_rng.choice(_NEXT[words[-1]]))
    return " ".join(words) + " . "


_SPLITS = {"train": [_line() for _ in range(120)] + [""],
           "valid": [_line() for _ in range(24)],
           "test": [_line() for _ in range(24)]}


def WikiText2(root=".data", split=("train", "valid", "test")):
    if isinstance(split, str):
        return iter(_SPLITS[split])
    return tuple(iter(_SPLITS[s]) for s in split)
'''

TORCHTEXT_UTILS = '''
def get_tokenizer(tokenizer, language="en"):
    assert tokenizer == "basic_english"
    return lambda line: line.lower().split()
'''

TORCHTEXT_VOCAB = '''
class Vocab:
    def __init__(self, itos):
        self.itos = itos
        self.stoi = {s: i for i, s in enumerate(itos)}
        self.default = None

    def set_default_index(self, index):
        self.default = index

    def __getitem__(self, token):
        return self.stoi.get(token, self.default)

    def __call__(self, tokens):
        return [self[t] for t in tokens]

    def __len__(self):
        return len(self.itos)


def build_vocab_from_iterator(iterator, specials=()):
    counts = {}
    for tokens in iterator:
        for t in tokens:
            counts[t] = counts.get(t, 0) + 1
    return Vocab(list(specials) + sorted(counts, key=lambda t: (-counts[t], t)))
'''

TORCHTEXT = {"torchtext": "", "torchtext.datasets": TORCHTEXT_DATASETS,
             "torchtext.data": "", "torchtext.data.utils": TORCHTEXT_UTILS,
             "torchtext.vocab": TORCHTEXT_VOCAB}

TRANSFORMER_TUTORIAL = r'''
import math
import os
from tempfile import TemporaryDirectory
from typing import Tuple

import torch
from torch import nn, Tensor
from torch.nn import TransformerEncoder, TransformerEncoderLayer
from torch.utils.data import dataset

class TransformerModel(nn.Module):

    def __init__(self, ntoken: int, d_model: int, nhead: int, d_hid: int,
                 nlayers: int, dropout: float = 0.5):
        super().__init__()
        self.model_type = 'Transformer'
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        encoder_layers = TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
        self.transformer_encoder = TransformerEncoder(encoder_layers, nlayers)
        self.embedding = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.linear = nn.Linear(d_model, ntoken)

        self.init_weights()

    def init_weights(self) -> None:
        initrange = 0.1
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.linear.bias.data.zero_()
        self.linear.weight.data.uniform_(-initrange, initrange)

    def forward(self, src: Tensor, src_mask: Tensor = None) -> Tensor:
        src = self.embedding(src) * math.sqrt(self.d_model)
        src = self.pos_encoder(src)
        output = self.transformer_encoder(src, src_mask)
        output = self.linear(output)
        return output


class PositionalEncoding(nn.Module):

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)

        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer('pe', pe)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.pe[:x.size(0)]
        return self.dropout(x)


from torchtext.datasets import WikiText2
from torchtext.data.utils import get_tokenizer
from torchtext.vocab import build_vocab_from_iterator

train_iter = WikiText2(split='train')
tokenizer = get_tokenizer('basic_english')
vocab = build_vocab_from_iterator(map(tokenizer, train_iter), specials=['<unk>'])
vocab.set_default_index(vocab['<unk>'])

def data_process(raw_text_iter: dataset.IterableDataset) -> Tensor:
    """Converts raw text into a flat Tensor."""
    data = [torch.tensor(vocab(tokenizer(item)), dtype=torch.long) for item in raw_text_iter]
    return torch.cat(tuple(filter(lambda t: t.numel() > 0, data)))

train_iter, val_iter, test_iter = WikiText2()
train_data = data_process(train_iter)
val_data = data_process(val_iter)
test_data = data_process(test_iter)

device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

def batchify(data: Tensor, bsz: int) -> Tensor:
    seq_len = data.size(0) // bsz
    data = data[:seq_len * bsz]
    data = data.view(bsz, seq_len).t().contiguous()
    return data.to(device)

batch_size = 20
eval_batch_size = 10
train_data = batchify(train_data, batch_size)  # shape ``[seq_len, batch_size]``
val_data = batchify(val_data, eval_batch_size)
test_data = batchify(test_data, eval_batch_size)


bptt = 12
def get_batch(source: Tensor, i: int) -> Tuple[Tensor, Tensor]:
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i+seq_len]
    target = source[i+1:i+1+seq_len].reshape(-1)
    return data, target


ntokens = len(vocab)  # size of vocabulary
emsize = 32  # embedding dimension
d_hid = 32  # dimension of the feedforward network model in ``nn.TransformerEncoder``
nlayers = 2  # number of ``nn.TransformerEncoderLayer`` in ``nn.TransformerEncoder``
nhead = 2  # number of heads in ``nn.MultiheadAttention``
dropout = 0.2  # dropout probability
model = TransformerModel(ntokens, emsize, nhead, d_hid, nlayers, dropout).to(device)


import time

criterion = nn.CrossEntropyLoss()
lr = 5.0  # learning rate
optimizer = torch.optim.SGD(model.parameters(), lr=lr)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.95)

def train(model: nn.Module) -> None:
    model.train()  # turn on train mode
    total_loss = 0.
    log_interval = 2
    start_time = time.time()

    num_batches = len(train_data) // bptt
    for batch, i in enumerate(range(0, train_data.size(0) - 1, bptt)):
        data, targets = get_batch(train_data, i)
        output = model(data)
        output_flat = output.view(-1, ntokens)
        loss = criterion(output_flat, targets)

        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()

        total_loss += loss.item()
        if batch % log_interval == 0 and batch > 0:
            lr = scheduler.get_last_lr()[0]
            ms_per_batch = (time.time() - start_time) * 1000 / log_interval
            cur_loss = total_loss / log_interval
            ppl = math.exp(cur_loss)
            print(f'| epoch {epoch:3d} | {batch:5d}/{num_batches:5d} batches | '
                  f'lr {lr:02.2f} | ms/batch {ms_per_batch:5.2f} | '
                  f'loss {cur_loss:5.2f} | ppl {ppl:8.2f}')
            total_loss = 0
            start_time = time.time()

def evaluate(model: nn.Module, eval_data: Tensor) -> float:
    model.eval()  # turn on evaluation mode
    total_loss = 0.
    with torch.no_grad():
        for i in range(0, eval_data.size(0) - 1, bptt):
            data, targets = get_batch(eval_data, i)
            seq_len = data.size(0)
            output = model(data)
            output_flat = output.view(-1, ntokens)
            total_loss += seq_len * criterion(output_flat, targets).item()
    return total_loss / (len(eval_data) - 1)


best_val_loss = float('inf')
epochs = 3

with TemporaryDirectory() as tempdir:
    best_model_params_path = os.path.join(tempdir, "best_model_params.pt")

    for epoch in range(1, epochs + 1):
        epoch_start_time = time.time()
        train(model)
        val_loss = evaluate(model, val_data)
        val_ppl = math.exp(val_loss)
        elapsed = time.time() - epoch_start_time
        print('-' * 89)
        print(f'| end of epoch {epoch:3d} | time: {elapsed:5.2f}s | '
            f'valid loss {val_loss:5.2f} | valid ppl {val_ppl:8.2f}')
        print('-' * 89)

        if val_loss < best_val_loss:
            best_val_loss = val_loss
            torch.save(model.state_dict(), best_model_params_path)

        scheduler.step()
    model.load_state_dict(torch.load(best_model_params_path)) # load best model states


test_loss = evaluate(model, test_data)
test_ppl = math.exp(test_loss)
print('=' * 89)
print(f'| End of training | test loss {test_loss:5.2f} | '
      f'test ppl {test_ppl:8.2f}')
print('=' * 89)
'''


@pytest.fixture(scope="module")
def lm():
    ember.manual_seed(0)
    return run(TRANSFORMER_TUTORIAL, modules=TORCHTEXT)


def test_batchify_and_get_batch(lm):
    vocab, train_data = lm["vocab"], lm["train_data"]
    assert lm["ntokens"] == len(vocab.itos) == 12  # <unk>, 10 words and "."
    assert train_data.shape[1] == 20 and train_data.dtype == ember.int64
    flat = np.concatenate([vocab(lm["tokenizer"](line)) for line in
                           lm["WikiText2"](split="train")])
    n = len(flat) // 20
    # batchify: column j holds the j-th contiguous slice of the token stream
    np.testing.assert_array_equal(train_data.numpy(), flat[:n * 20].reshape(20, n).T)
    data, target = lm["get_batch"](train_data, 0)
    assert data.shape == (12, 20) and target.shape == (12 * 20,)
    np.testing.assert_array_equal(target.numpy(), train_data.numpy()[1:13].reshape(-1))


def test_positional_encoding_matches_formula(lm):
    pe = lm["model"].pos_encoder.pe.numpy()
    assert pe.shape == (5000, 1, 32)
    # float32 as in the tutorial: ``position * div_term`` reaches 5000, where float32 rounds
    # by 2.4e-4, so the angle is formed in float32 before the sine; the exponential is the
    # correctly rounded one (as PyTorch's here; NumPy's float32 exp is an ulp off for some).
    pos = np.arange(5000, dtype=np.float32)[:, None]
    exponent = np.arange(0, 32, 2, dtype=np.float32) * np.float32(-math.log(10000.0) / 32)
    div = np.exp(exponent.astype(np.float64)).astype(np.float32)
    angle = (pos * div).astype(np.float64)
    np.testing.assert_allclose(pe[:, 0, 0::2], np.sin(angle), atol=1e-6)
    np.testing.assert_allclose(pe[:, 0, 1::2], np.cos(angle), atol=1e-6)


def test_training_learns_the_grammar(lm):
    out = lm["_stdout"]
    losses = [float(x) for x in re.findall(r"\| loss\s+([\d.]+)", out)]
    assert len(losses) >= 4 and losses[-1] < losses[0], out
    valid = [float(x) for x in re.findall(r"valid loss\s+([\d.]+)", out)]
    assert len(valid) == 3
    # Uniform guessing over 12 tokens costs ln 12 = 2.48; the grammar's entropy is below 1.
    assert lm["test_loss"] < 1.5, out
    assert "| End of training | test loss" in out
    assert lm["scheduler"].get_last_lr()[0] == pytest.approx(5.0 * 0.95 ** 3)


def test_best_state_dict_was_restored(lm):
    # The model in the end holds the best epoch's weights: evaluating it again gives the
    # best validation loss seen during training.
    val = lm["evaluate"](lm["model"], lm["val_data"])
    assert val == pytest.approx(lm["best_val_loss"], rel=1e-5)
