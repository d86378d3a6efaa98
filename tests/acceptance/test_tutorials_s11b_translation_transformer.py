"""Acceptance: "Language Translation with ``nn.Transformer`` and torchtext"
(beginner_source/translation_transformer.py) runs on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed. Reduced: ``EMB_SIZE``
512 -> 32, ``NHEAD`` 8 -> 4, ``FFN_HID_DIM`` 512 -> 64, ``BATCH_SIZE`` 128 -> 16 (the 18
epochs are kept). Multi30k, torchtext and the spaCy tokenizers are stand-ins with torchtext's API (``Multi30k(split, language_pair)``, ``multi30k.URL``,
``get_tokenizer('spacy', ...)``, ``build_vocab_from_iterator(min_freq, specials,
special_first)``, ``Vocab.set_default_index``/``lookup_tokens``): German-English pairs drawn
from a small grammar that translates word for word, among them the tutorial's own sentence.
The model (``nn.Transformer`` with padding and causal masks), the collation with
``pad_sequence``, the training and evaluation loops and greedy decoding are unchanged.
"""
# The tutorial's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import re

import numpy as np
import pytest
from acceptance_runner import run

import ember

EPOCHS = 18  # the tutorial's own NUM_EPOCHS

MULTI30K = '''
import random

URL = {"train": "", "valid": "", "test": ""}

_DE_EN = {"Eine": "A", "Ein": "A", "Gruppe": "group", "von": "of", "Menschen": "people",
          "Hund": "dog", "Frau": "woman", "steht": "stands", "läuft": "runs",
          "sitzt": "sits", "vor": "before", "einem": "an", "Iglu": "igloo", "im": "in",
          "Park": "park", "Haus": "house", ".": "."}
_SUBJECTS = ["Eine Gruppe von Menschen", "Ein Hund", "Eine Frau"]
_VERBS = ["steht", "läuft", "sitzt"]
_PLACES = ["vor einem Iglu", "im Park", "vor einem Haus"]


def _pairs(n, seed):
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        de = " ".join([rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_PLACES), "."])
        en = " ".join(_DE_EN[w] for w in de.split())
        pairs.append((de + "\\n", en + "\\n"))
    return pairs


_SPLITS = {"train": _pairs(160, 0), "valid": _pairs(32, 1)}


def Multi30k(root=".data", split=("train", "valid", "test"), language_pair=("de", "en")):
    assert language_pair == ("de", "en")
    return list(_SPLITS[split])
'''

TORCHTEXT_DATASETS = '''
from torchtext.datasets import multi30k
from torchtext.datasets.multi30k import Multi30k
'''

TORCHTEXT_UTILS = '''
def get_tokenizer(tokenizer, language="en"):
    assert tokenizer == "spacy"
    return lambda line: line.split()
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
        if token not in self.stoi and self.default is None:
            raise RuntimeError(f"Token {token} not found and default index is not set")
        return self.stoi.get(token, self.default)

    def __call__(self, tokens):
        return [self[t] for t in tokens]

    def __len__(self):
        return len(self.itos)

    def lookup_tokens(self, indices):
        return [self.itos[int(i)] for i in indices]


def build_vocab_from_iterator(iterator, min_freq=1, specials=None, special_first=True):
    counts = {}
    for tokens in iterator:
        for t in tokens:
            counts[t] = counts.get(t, 0) + 1
    words = sorted((t for t in counts if counts[t] >= min_freq), key=lambda t: (-counts[t], t))
    specials = list(specials or [])
    return Vocab(specials + words if special_first else words + specials)
'''

TORCHTEXT = {"torchtext": "", "torchtext.datasets.multi30k": MULTI30K,
             "torchtext.datasets": TORCHTEXT_DATASETS, "torchtext.data": "",
             "torchtext.data.utils": TORCHTEXT_UTILS, "torchtext.vocab": TORCHTEXT_VOCAB}

TRANSLATION = r'''
from torchtext.data.utils import get_tokenizer
from torchtext.vocab import build_vocab_from_iterator
from torchtext.datasets import multi30k, Multi30k
from typing import Iterable, List


multi30k.URL["train"] = "https://raw.githubusercontent.com/neychev/small_DL_repo/master/datasets/Multi30k/training.tar.gz"
multi30k.URL["valid"] = "https://raw.githubusercontent.com/neychev/small_DL_repo/master/datasets/Multi30k/validation.tar.gz"

SRC_LANGUAGE = 'de'
TGT_LANGUAGE = 'en'

token_transform = {}
vocab_transform = {}


token_transform[SRC_LANGUAGE] = get_tokenizer('spacy', language='de_core_news_sm')
token_transform[TGT_LANGUAGE] = get_tokenizer('spacy', language='en_core_web_sm')


def yield_tokens(data_iter: Iterable, language: str) -> List[str]:
    language_index = {SRC_LANGUAGE: 0, TGT_LANGUAGE: 1}

    for data_sample in data_iter:
        yield token_transform[language](data_sample[language_index[language]])

UNK_IDX, PAD_IDX, BOS_IDX, EOS_IDX = 0, 1, 2, 3
special_symbols = ['<unk>', '<pad>', '<bos>', '<eos>']

for ln in [SRC_LANGUAGE, TGT_LANGUAGE]:
    train_iter = Multi30k(split='train', language_pair=(SRC_LANGUAGE, TGT_LANGUAGE))
    vocab_transform[ln] = build_vocab_from_iterator(yield_tokens(train_iter, ln),
                                                    min_freq=1,
                                                    specials=special_symbols,
                                                    special_first=True)

for ln in [SRC_LANGUAGE, TGT_LANGUAGE]:
  vocab_transform[ln].set_default_index(UNK_IDX)


from torch import Tensor
import torch
import torch.nn as nn
from torch.nn import Transformer
import math
DEVICE = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

class PositionalEncoding(nn.Module):
    def __init__(self,
                 emb_size: int,
                 dropout: float,
                 maxlen: int = 5000):
        super(PositionalEncoding, self).__init__()
        den = torch.exp(- torch.arange(0, emb_size, 2)* math.log(10000) / emb_size)
        pos = torch.arange(0, maxlen).reshape(maxlen, 1)
        pos_embedding = torch.zeros((maxlen, emb_size))
        pos_embedding[:, 0::2] = torch.sin(pos * den)
        pos_embedding[:, 1::2] = torch.cos(pos * den)
        pos_embedding = pos_embedding.unsqueeze(-2)

        self.dropout = nn.Dropout(dropout)
        self.register_buffer('pos_embedding', pos_embedding)

    def forward(self, token_embedding: Tensor):
        return self.dropout(token_embedding + self.pos_embedding[:token_embedding.size(0), :])

class TokenEmbedding(nn.Module):
    def __init__(self, vocab_size: int, emb_size):
        super(TokenEmbedding, self).__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size)
        self.emb_size = emb_size

    def forward(self, tokens: Tensor):
        return self.embedding(tokens.long()) * math.sqrt(self.emb_size)

class Seq2SeqTransformer(nn.Module):
    def __init__(self,
                 num_encoder_layers: int,
                 num_decoder_layers: int,
                 emb_size: int,
                 nhead: int,
                 src_vocab_size: int,
                 tgt_vocab_size: int,
                 dim_feedforward: int = 512,
                 dropout: float = 0.1):
        super(Seq2SeqTransformer, self).__init__()
        self.transformer = Transformer(d_model=emb_size,
                                       nhead=nhead,
                                       num_encoder_layers=num_encoder_layers,
                                       num_decoder_layers=num_decoder_layers,
                                       dim_feedforward=dim_feedforward,
                                       dropout=dropout)
        self.generator = nn.Linear(emb_size, tgt_vocab_size)
        self.src_tok_emb = TokenEmbedding(src_vocab_size, emb_size)
        self.tgt_tok_emb = TokenEmbedding(tgt_vocab_size, emb_size)
        self.positional_encoding = PositionalEncoding(
            emb_size, dropout=dropout)

    def forward(self,
                src: Tensor,
                trg: Tensor,
                src_mask: Tensor,
                tgt_mask: Tensor,
                src_padding_mask: Tensor,
                tgt_padding_mask: Tensor,
                memory_key_padding_mask: Tensor):
        src_emb = self.positional_encoding(self.src_tok_emb(src))
        tgt_emb = self.positional_encoding(self.tgt_tok_emb(trg))
        outs = self.transformer(src_emb, tgt_emb, src_mask, tgt_mask, None,
                                src_padding_mask, tgt_padding_mask, memory_key_padding_mask)
        return self.generator(outs)

    def encode(self, src: Tensor, src_mask: Tensor):
        return self.transformer.encoder(self.positional_encoding(
                            self.src_tok_emb(src)), src_mask)

    def decode(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor):
        return self.transformer.decoder(self.positional_encoding(
                          self.tgt_tok_emb(tgt)), memory,
                          tgt_mask)


def generate_square_subsequent_mask(sz):
    mask = (torch.triu(torch.ones((sz, sz), device=DEVICE)) == 1).transpose(0, 1)
    mask = mask.float().masked_fill(mask == 0, float('-inf')).masked_fill(mask == 1, float(0.0))
    return mask


def create_mask(src, tgt):
    src_seq_len = src.shape[0]
    tgt_seq_len = tgt.shape[0]

    tgt_mask = generate_square_subsequent_mask(tgt_seq_len)
    src_mask = torch.zeros((src_seq_len, src_seq_len),device=DEVICE).type(torch.bool)

    src_padding_mask = (src == PAD_IDX).transpose(0, 1)
    tgt_padding_mask = (tgt == PAD_IDX).transpose(0, 1)
    return src_mask, tgt_mask, src_padding_mask, tgt_padding_mask


torch.manual_seed(0)

SRC_VOCAB_SIZE = len(vocab_transform[SRC_LANGUAGE])
TGT_VOCAB_SIZE = len(vocab_transform[TGT_LANGUAGE])
EMB_SIZE = 32
NHEAD = 4
FFN_HID_DIM = 64
BATCH_SIZE = 16
NUM_ENCODER_LAYERS = 3
NUM_DECODER_LAYERS = 3

transformer = Seq2SeqTransformer(NUM_ENCODER_LAYERS, NUM_DECODER_LAYERS, EMB_SIZE,
                                 NHEAD, SRC_VOCAB_SIZE, TGT_VOCAB_SIZE, FFN_HID_DIM)

for p in transformer.parameters():
    if p.dim() > 1:
        nn.init.xavier_uniform_(p)

transformer = transformer.to(DEVICE)

loss_fn = torch.nn.CrossEntropyLoss(ignore_index=PAD_IDX)

optimizer = torch.optim.Adam(transformer.parameters(), lr=0.0001, betas=(0.9, 0.98), eps=1e-9)


from torch.nn.utils.rnn import pad_sequence

def sequential_transforms(*transforms):
    def func(txt_input):
        for transform in transforms:
            txt_input = transform(txt_input)
        return txt_input
    return func

def tensor_transform(token_ids: List[int]):
    return torch.cat((torch.tensor([BOS_IDX]),
                      torch.tensor(token_ids),
                      torch.tensor([EOS_IDX])))

text_transform = {}
for ln in [SRC_LANGUAGE, TGT_LANGUAGE]:
    text_transform[ln] = sequential_transforms(token_transform[ln], #Tokenization
                                               vocab_transform[ln], #Numericalization
                                               tensor_transform) # Add BOS/EOS and create tensor


def collate_fn(batch):
    src_batch, tgt_batch = [], []
    for src_sample, tgt_sample in batch:
        src_batch.append(text_transform[SRC_LANGUAGE](src_sample.rstrip("\n")))
        tgt_batch.append(text_transform[TGT_LANGUAGE](tgt_sample.rstrip("\n")))

    src_batch = pad_sequence(src_batch, padding_value=PAD_IDX)
    tgt_batch = pad_sequence(tgt_batch, padding_value=PAD_IDX)
    return src_batch, tgt_batch


from torch.utils.data import DataLoader

def train_epoch(model, optimizer):
    model.train()
    losses = 0
    train_iter = Multi30k(split='train', language_pair=(SRC_LANGUAGE, TGT_LANGUAGE))
    train_dataloader = DataLoader(train_iter, batch_size=BATCH_SIZE, collate_fn=collate_fn)

    for src, tgt in train_dataloader:
        src = src.to(DEVICE)
        tgt = tgt.to(DEVICE)

        tgt_input = tgt[:-1, :]

        src_mask, tgt_mask, src_padding_mask, tgt_padding_mask = create_mask(src, tgt_input)

        logits = model(src, tgt_input, src_mask, tgt_mask,src_padding_mask, tgt_padding_mask, src_padding_mask)

        optimizer.zero_grad()

        tgt_out = tgt[1:, :]
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1))
        loss.backward()

        optimizer.step()
        losses += loss.item()

    return losses / len(list(train_dataloader))


def evaluate(model):
    model.eval()
    losses = 0

    val_iter = Multi30k(split='valid', language_pair=(SRC_LANGUAGE, TGT_LANGUAGE))
    val_dataloader = DataLoader(val_iter, batch_size=BATCH_SIZE, collate_fn=collate_fn)

    for src, tgt in val_dataloader:
        src = src.to(DEVICE)
        tgt = tgt.to(DEVICE)

        tgt_input = tgt[:-1, :]

        src_mask, tgt_mask, src_padding_mask, tgt_padding_mask = create_mask(src, tgt_input)

        logits = model(src, tgt_input, src_mask, tgt_mask,src_padding_mask, tgt_padding_mask, src_padding_mask)

        tgt_out = tgt[1:, :]
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1))
        losses += loss.item()

    return losses / len(list(val_dataloader))


from timeit import default_timer as timer
NUM_EPOCHS = {EPOCHS}

for epoch in range(1, NUM_EPOCHS+1):
    start_time = timer()
    train_loss = train_epoch(transformer, optimizer)
    end_time = timer()
    val_loss = evaluate(transformer)
    print((f"Epoch: {epoch}, Train loss: {train_loss:.3f}, Val loss: {val_loss:.3f}, "f"Epoch time = {(end_time - start_time):.3f}s"))


def greedy_decode(model, src, src_mask, max_len, start_symbol):
    src = src.to(DEVICE)
    src_mask = src_mask.to(DEVICE)

    memory = model.encode(src, src_mask)
    ys = torch.ones(1, 1).fill_(start_symbol).type(torch.long).to(DEVICE)
    for i in range(max_len-1):
        memory = memory.to(DEVICE)
        tgt_mask = (generate_square_subsequent_mask(ys.size(0))
                    .type(torch.bool)).to(DEVICE)
        out = model.decode(ys, memory, tgt_mask)
        out = out.transpose(0, 1)
        prob = model.generator(out[:, -1])
        _, next_word = torch.max(prob, dim=1)
        next_word = next_word.item()

        ys = torch.cat([ys,
                        torch.ones(1, 1).type_as(src.data).fill_(next_word)], dim=0)
        if next_word == EOS_IDX:
            break
    return ys


def translate(model: torch.nn.Module, src_sentence: str):
    model.eval()
    src = text_transform[SRC_LANGUAGE](src_sentence).view(-1, 1)
    num_tokens = src.shape[0]
    src_mask = (torch.zeros(num_tokens, num_tokens)).type(torch.bool)
    tgt_tokens = greedy_decode(
        model,  src, src_mask, max_len=num_tokens + 5, start_symbol=BOS_IDX).flatten()
    return " ".join(vocab_transform[TGT_LANGUAGE].lookup_tokens(list(tgt_tokens.cpu().numpy()))).replace("<bos>", "").replace("<eos>", "")


print(translate(transformer, "Eine Gruppe von Menschen steht vor einem Iglu ."))
'''.replace("{EPOCHS}", str(EPOCHS))


@pytest.fixture(scope="module")
def tutorial():
    return run(TRANSLATION, modules=TORCHTEXT)


def test_vocab_and_collation(tutorial):
    vocab = tutorial["vocab_transform"]
    assert vocab["de"].itos[:4] == ["<unk>", "<pad>", "<bos>", "<eos>"]
    assert tutorial["SRC_VOCAB_SIZE"] == 4 + 17
    assert tutorial["TGT_VOCAB_SIZE"] == 4 + 16  # "Eine" and "Ein" are both "A"
    assert vocab["en"]["zebra"] == 0  # the default index
    batch = [("Ein Hund sitzt im Park .\n", "A dog sits in park .\n"),
             ("Eine Gruppe von Menschen steht vor einem Iglu .\n",
              "A group of people stands before an igloo .\n")]
    src, tgt = tutorial["collate_fn"](batch)
    assert src.shape == (11, 2) and tgt.shape == (11, 2) and src.dtype == ember.int64
    assert src[0].tolist() == [2, 2] and src[7, 0].item() == 3 and src[8, 0].item() == 1
    src_mask, tgt_mask, src_pad, tgt_pad = tutorial["create_mask"](src, tgt[:-1, :])
    assert src_mask.dtype == ember.bool and not bool(src_mask.any())
    expected = np.where(np.tril(np.ones((10, 10))) == 1, 0.0, -np.inf)
    np.testing.assert_array_equal(tgt_mask.numpy(), expected)
    assert src_pad.shape == (2, 11)
    assert src_pad[0].tolist() == [False] * 8 + [True] * 3


def test_training_and_validation_loss_fall(tutorial):
    found = re.findall(r"Epoch: (\d+), Train loss: ([\d.]+), Val loss: ([\d.]+)",
                       tutorial["_stdout"])
    assert [int(e) for e, _, _ in found] == list(range(1, EPOCHS + 1))
    train = [float(t) for _, t, _ in found]
    val = [float(v) for _, _, v in found]
    assert train[-1] < 0.6 * train[0], train
    assert val[-1] < 0.5 * val[0], val


def test_greedy_translation(tutorial):
    line = tutorial["_stdout"].strip().splitlines()[-1]
    words = line.split()
    english = set(tutorial["vocab_transform"]["en"].itos[4:])
    assert words and set(words) <= english, line
    # The model has seen this sentence's words often enough to start it right.
    assert words[0] == "A", line
