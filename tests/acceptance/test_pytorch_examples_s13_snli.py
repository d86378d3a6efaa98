"""Acceptance: pytorch/examples ``legacy/snli`` (train.py, model.py, util.py) runs unchanged on
ember and agrees with real PyTorch.

The example (BSD-3-Clause) classifies premise/hypothesis pairs: an embedding, a ``Linear``
projection built as ``class Linear(Bottle, nn.Linear)`` (a mixin whose ``super().forward``
reaches ``nn.Linear``'s on flattened 3-d input), one bidirectional ``nn.LSTM`` encoding both
sentences from ``new_zeros`` states (``ht[-2:].transpose(0, 1).contiguous().view``), an MLP of
``Linear``/ReLU/Dropout, ``CrossEntropyLoss`` and Adam; it logs with format templates, evaluates
under ``no_grad`` and checkpoints whole models with ``torch.save(model, ...)``, deleting older
snapshots with ``glob``/``os.remove``.

torchtext (its ``legacy`` API) and spaCy are not installed: a stand-in ``torchtext.legacy``
holds ``data.Field`` (whitespace tokens, a vocabulary with ``<unk>``/``<pad>`` first),
``data.BucketIterator`` (fixed-order batches, sentences padded along dim 0) and
``datasets.SNLI`` with three tiny splits of made-up sentences whose label follows from the
hypothesis' words. The command line shrinks the model (``--d_embed 8 --d_proj 8 --d_hidden 8``), skips
GloVe (``--word_vectors ''``), turns dropout off (``--dp_ratio 0``) and logs every iteration.
Each layer's initial weights, drawn by ember, are replayed into PyTorch's, so both runs must log
the same losses and accuracies.
"""
# The example's code is kept verbatim, long lines and odd indentation included.
# ruff: noqa: E501, E701, E702, E111, E117

import glob
import os
import re
import sys

import numpy as np
import pytest
from acceptance_runner import run
from torch_runner import record_initial_weights, replay_initial_weights, run_torch

import ember

MODEL = r'''
import torch
import torch.nn as nn


class Bottle(nn.Module):

    def forward(self, input):
        if len(input.size()) <= 2:
            return super().forward(input)
        size = input.size()[:2]
        out = super().forward(input.view(size[0]*size[1], -1))
        return out.view(size[0], size[1], -1)


class Linear(Bottle, nn.Linear):
    pass


class Encoder(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.config = config
        input_size = config.d_proj if config.projection else config.d_embed
        dropout = 0 if config.n_layers == 1 else config.dp_ratio
        self.rnn = nn.LSTM(input_size=input_size, hidden_size=config.d_hidden,
                        num_layers=config.n_layers, dropout=dropout,
                        bidirectional=config.birnn)

    def forward(self, inputs):
        batch_size = inputs.size()[1]
        state_shape = self.config.n_cells, batch_size, self.config.d_hidden
        h0 = c0 = inputs.new_zeros(state_shape)
        outputs, (ht, ct) = self.rnn(inputs, (h0, c0))
        return ht[-1] if not self.config.birnn else ht[-2:].transpose(0, 1).contiguous().view(batch_size, -1)


class SNLIClassifier(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.n_embed, config.d_embed)
        self.projection = Linear(config.d_embed, config.d_proj)
        self.encoder = Encoder(config)
        self.dropout = nn.Dropout(p=config.dp_ratio)
        self.relu = nn.ReLU()
        seq_in_size = 2*config.d_hidden
        if self.config.birnn:
            seq_in_size *= 2
        lin_config = [seq_in_size]*2
        self.out = nn.Sequential(
            Linear(*lin_config),
            self.relu,
            self.dropout,
            Linear(*lin_config),
            self.relu,
            self.dropout,
            Linear(*lin_config),
            self.relu,
            self.dropout,
            Linear(seq_in_size, config.d_out))

    def forward(self, batch):
        prem_embed = self.embed(batch.premise)
        hypo_embed = self.embed(batch.hypothesis)
        if self.config.fix_emb:
            prem_embed = prem_embed.detach()
            hypo_embed = hypo_embed.detach()
        if self.config.projection:
            prem_embed = self.relu(self.projection(prem_embed))
            hypo_embed = self.relu(self.projection(hypo_embed))
        premise = self.encoder(prem_embed)
        hypothesis = self.encoder(hypo_embed)
        scores = self.out(torch.cat([premise, hypothesis], 1))
        return scores
'''

UTIL = r'''
import os
from argparse import ArgumentParser

def makedirs(name):
    """helper function for python 2 and 3 to call os.makedirs()
       avoiding an error if the directory to be created already exists"""

    import os, errno

    try:
        os.makedirs(name)
    except OSError as ex:
        if ex.errno == errno.EEXIST and os.path.isdir(name):
            # ignore existing directory
            pass
        else:
            # a different error happened
            raise


def get_args():
    parser = ArgumentParser(description='PyTorch/torchtext SNLI example')
    parser.add_argument('--device', type=str, default='cpu',
                        help='backend device')
    parser.add_argument('--epochs', type=int, default=50,
                        help='the number of total epochs to run.')
    parser.add_argument('--batch_size', type=int, default=128,
                        help='batch size. (default: 128)')
    parser.add_argument('--d_embed', type=int, default=100,
                        help='the size of each embedding vector.')
    parser.add_argument('--d_proj', type=int, default=300,
                        help='the size of each projection layer.')
    parser.add_argument('--d_hidden', type=int, default=300,
                        help='the number of features in the hidden state.')
    parser.add_argument('--n_layers', type=int, default=1,
                        help='the number of recurrent layers. (default: 50)')
    parser.add_argument('--log_every', type=int, default=50,
                        help='iteration period to output log.')
    parser.add_argument('--lr',type=float, default=.001,
                        help='initial learning rate.')
    parser.add_argument('--dev_every', type=int, default=1000,
                        help='log period of validation results.')
    parser.add_argument('--save_every', type=int, default=1000,
                        help='model checkpoint period.')
    parser.add_argument('--dp_ratio', type=int, default=0.2,
                        help='probability of an element to be zeroed.')
    parser.add_argument('--no-bidirectional', action='store_false', dest='birnn',
                        help='disable bidirectional LSTM.')
    parser.add_argument('--preserve-case', action='store_false', dest='lower',
                        help='case-sensitivity.')
    parser.add_argument('--no-projection', action='store_false', dest='projection',
                        help='disable projection layer.')
    parser.add_argument('--train_embed', action='store_false', dest='fix_emb',
                        help='enable embedding word training.')
    parser.add_argument('--gpu', type=int, default=0,
                        help='gpu id to use. (default: 0)')
    parser.add_argument('--save_path', type=str, default='results',
                        help='save path of results.')
    parser.add_argument('--vector_cache', type=str, default=os.path.join(os.getcwd(), '.vector_cache/input_vectors.pt'),
                        help='name of vector cache directory, which saved input word-vectors.')
    parser.add_argument('--word_vectors', type=str, default='glove.6B.100d',
                        help='one of or a list containing instantiations of the GloVe, CharNGram, or Vectors classes.'
                        'Alternatively, one of or a list of available pretrained vectors: '
                        'charngram.100d fasttext.en.300d fasttext.simple.300d'
                        'glove.42B.300d glove.840B.300d glove.twitter.27B.25d'
                        'glove.twitter.27B.50d glove.twitter.27B.100d glove.twitter.27B.200d'
                        'glove.6B.50d glove.6B.100d glove.6B.200d glove.6B.300d')
    parser.add_argument('--resume_snapshot', type=str, default='',
                        help='model snapshot to resume.')
    parser.add_argument('--dry-run', action='store_true',
                        help='run only a few iterations')
    args = parser.parse_args()
    return args
'''

TRAIN = r'''
import os
import time
import glob

import torch
import torch.optim as O
import torch.nn as nn

from torchtext.legacy import data
from torchtext.legacy import datasets

from model import SNLIClassifier
from util import get_args, makedirs


args = get_args()
if torch.cuda.is_available():
    torch.cuda.set_device(args.gpu)
    device = torch.device('cuda:{}'.format(args.gpu))
elif torch.backends.mps.is_available():
    device = torch.device('mps')
else:
    device = torch.device(args.device)

inputs = data.Field(lower=args.lower, tokenize='spacy')
answers = data.Field(sequential=False)

train, dev, test = datasets.SNLI.splits(inputs, answers)

inputs.build_vocab(train, dev, test)
if args.word_vectors:
    if os.path.isfile(args.vector_cache):
        inputs.vocab.vectors = torch.load(args.vector_cache)
    else:
        inputs.vocab.load_vectors(args.word_vectors)
        makedirs(os.path.dirname(args.vector_cache))
        torch.save(inputs.vocab.vectors, args.vector_cache)
answers.build_vocab(train)

train_iter, dev_iter, test_iter = data.BucketIterator.splits(
            (train, dev, test), batch_size=args.batch_size, device=device)

config = args
config.n_embed = len(inputs.vocab)
config.d_out = len(answers.vocab)
config.n_cells = config.n_layers

# double the number of cells for bidirectional networks
if config.birnn:
    config.n_cells *= 2

if args.resume_snapshot:
    model = torch.load(args.resume_snapshot, map_location=device)
else:
    model = SNLIClassifier(config)
    if args.word_vectors:
        model.embed.weight.data.copy_(inputs.vocab.vectors)
        model.to(device)

criterion = nn.CrossEntropyLoss()
opt = O.Adam(model.parameters(), lr=args.lr)

iterations = 0
start = time.time()
best_dev_acc = -1
header = '  Time Epoch Iteration Progress    (%Epoch)   Loss   Dev/Loss     Accuracy  Dev/Accuracy'
dev_log_template = ' '.join('{:>6.0f},{:>5.0f},{:>9.0f},{:>5.0f}/{:<5.0f} {:>7.0f}%,{:>8.6f},{:8.6f},{:12.4f},{:12.4f}'.split(','))
log_template =     ' '.join('{:>6.0f},{:>5.0f},{:>9.0f},{:>5.0f}/{:<5.0f} {:>7.0f}%,{:>8.6f},{},{:12.4f},{}'.split(','))
makedirs(args.save_path)
print(header)

for epoch in range(args.epochs):
    train_iter.init_epoch()
    n_correct, n_total = 0, 0
    for batch_idx, batch in enumerate(train_iter):

        # switch model to training mode, clear gradient accumulators
        model.train(); opt.zero_grad()

        iterations += 1

        # forward pass
        answer = model(batch)

        # calculate accuracy of predictions in the current batch
        n_correct += (torch.max(answer, 1)[1].view(batch.label.size()) == batch.label).sum().item()
        n_total += batch.batch_size
        train_acc = 100. * n_correct/n_total

        # calculate loss of the network output with respect to training labels
        loss = criterion(answer, batch.label)

        # backpropagate and update optimizer learning rate
        loss.backward(); opt.step()

        # checkpoint model periodically
        if iterations % args.save_every == 0:
            snapshot_prefix = os.path.join(args.save_path, 'snapshot')
            snapshot_path = snapshot_prefix + '_acc_{:.4f}_loss_{:.6f}_iter_{}_model.pt'.format(train_acc, loss.item(), iterations)
            torch.save(model, snapshot_path)
            for f in glob.glob(snapshot_prefix + '*'):
                if f != snapshot_path:
                    os.remove(f)

        # evaluate performance on validation set periodically
        if iterations % args.dev_every == 0:

            # switch model to evaluation mode
            model.eval(); dev_iter.init_epoch()

            # calculate accuracy on validation set
            n_dev_correct, dev_loss = 0, 0
            with torch.no_grad():
                for dev_batch_idx, dev_batch in enumerate(dev_iter):
                     answer = model(dev_batch)
                     n_dev_correct += (torch.max(answer, 1)[1].view(dev_batch.label.size()) == dev_batch.label).sum().item()
                     dev_loss = criterion(answer, dev_batch.label)
            dev_acc = 100. * n_dev_correct / len(dev)

            print(dev_log_template.format(time.time()-start,
                epoch, iterations, 1+batch_idx, len(train_iter),
                100. * (1+batch_idx) / len(train_iter), loss.item(), dev_loss.item(), train_acc, dev_acc))

            # update best validation set accuracy
            if dev_acc > best_dev_acc:

                # found a model with better validation set accuracy

                best_dev_acc = dev_acc
                snapshot_prefix = os.path.join(args.save_path, 'best_snapshot')
                snapshot_path = snapshot_prefix + '_devacc_{}_devloss_{}__iter_{}_model.pt'.format(dev_acc, dev_loss.item(), iterations)

                # save model, delete previous 'best_snapshot' files
                torch.save(model, snapshot_path)
                for f in glob.glob(snapshot_prefix + '*'):
                    if f != snapshot_path:
                        os.remove(f)

        elif iterations % args.log_every == 0:

            # print progress message
            print(log_template.format(time.time()-start,
                epoch, iterations, 1+batch_idx, len(train_iter),
                100. * (1+batch_idx) / len(train_iter), loss.item(), ' '*8, n_correct/n_total*100, ' '*12))
        if args.dry_run:
            break
'''

# torchtext's legacy API, as much of it as the example uses.
TORCHTEXT_LEGACY = r'''
import types
from collections import Counter

import numpy as np
import torch


class Vocab:
    def __init__(self, counter, specials):
        self.itos = list(specials) + sorted(w for w in counter if w not in specials)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.vectors = None

    def __len__(self):
        return len(self.itos)


class Field:
    def __init__(self, sequential=True, lower=False, tokenize=None):
        self.sequential, self.lower, self.vocab = sequential, lower, None

    def preprocess(self, text):
        text = text.lower() if self.lower else text
        return text.split() if self.sequential else text

    def build_vocab(self, *splits):
        counter = Counter()
        for split in splits:
            for example in split:
                for name in split.fields_of(self):
                    value = getattr(example, name)
                    counter.update(value if self.sequential else [value])
        self.vocab = Vocab(counter, ["<unk>", "<pad>"] if self.sequential else ["<unk>"])

    def numericalize(self, values):
        if not self.sequential:
            return torch.tensor([self.vocab.stoi.get(v, 0) for v in values])
        length = max(len(v) for v in values)
        ids = np.ones((length, len(values)), dtype=np.int64)  # <pad> is 1
        for column, tokens in enumerate(values):
            ids[:len(tokens), column] = [self.vocab.stoi.get(t, 0) for t in tokens]
        return torch.from_numpy(ids)


class SNLI:
    """Made-up sentences: the premise draws from all words, the hypothesis from the words of
    its label's group."""
    labels = ("entailment", "contradiction", "neutral")
    sizes = {"train": 48, "dev": 16, "test": 16}

    def __init__(self, name, text_field, label_field):
        rng = np.random.default_rng(len(name))
        groups = [["%s%d" % (g, i) for i in range(4)] for g in "abc"]
        self.fields = {"premise": text_field, "hypothesis": text_field, "label": label_field}
        self.examples = []
        for i in range(self.sizes[name]):
            premise = rng.choice(sum(groups, []), 4)
            hypothesis = rng.choice(groups[i % 3], 3)
            self.examples.append(types.SimpleNamespace(
                premise=text_field.preprocess(" ".join(premise)),
                hypothesis=text_field.preprocess(" ".join(hypothesis)),
                label=label_field.preprocess(self.labels[i % 3])))

    def fields_of(self, field):
        return [name for name, f in self.fields.items() if f is field]

    def __iter__(self):
        return iter(self.examples)

    def __len__(self):
        return len(self.examples)

    @classmethod
    def splits(cls, text_field, label_field):
        return tuple(cls(name, text_field, label_field) for name in ("train", "dev", "test"))


class BucketIterator:
    def __init__(self, dataset, batch_size, device=None):
        self.dataset, self.batch_size, self.device = dataset, batch_size, device

    def init_epoch(self):
        pass

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        for start in range(0, len(self.dataset), self.batch_size):
            examples = self.dataset.examples[start:start + self.batch_size]
            batch = types.SimpleNamespace(batch_size=len(examples))
            for name, field in self.dataset.fields.items():
                values = [getattr(e, name) for e in examples]
                setattr(batch, name, field.numericalize(values).to(self.device))
            yield batch

    @classmethod
    def splits(cls, datasets, batch_size, device=None):
        return tuple(cls(d, batch_size, device) for d in datasets)


data = types.SimpleNamespace(Field=Field, BucketIterator=BucketIterator)
datasets = types.SimpleNamespace(SNLI=SNLI)
'''

MODULES = {"torchtext": "", "torchtext.legacy": TORCHTEXT_LEGACY, "model": MODEL, "util": UTIL}
ARGV = ["train.py", "--epochs", "8", "--batch_size", "16", "--d_embed", "8", "--d_proj", "8",
        "--d_hidden", "8", "--word_vectors", "", "--dp_ratio", "0", "--lr", "0.01",
        "--log_every", "1", "--dev_every", "3", "--save_every", "4"]
INIT_LAYERS = ("Embedding", "Linear", "LSTM")


def _log(out: str) -> list:
    """(iteration, train loss, dev loss or None, train accuracy, dev accuracy or None) per line."""
    rows = []
    for line in out.splitlines()[1:]:
        fields = line.split()
        if len(fields) == 9:  # a dev line
            rows.append((int(fields[2]), float(fields[5]), float(fields[6]), float(fields[7]),
                         float(fields[8])))
        else:
            rows.append((int(fields[2]), float(fields[5]), None, float(fields[6]), None))
    return rows


def test_snli_trains_as_in_pytorch(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ARGV + ["--save_path", str(tmp_path / "ember")])
    initial = []
    record_initial_weights(monkeypatch, INIT_LAYERS, initial)
    ember.manual_seed(0)  # the example seeds nothing
    ours = run(TRAIN, __name__="__main__", modules=MODULES)
    # nn.Embedding, then Linear (projection), then the LSTM, then the four Linear of ``out``
    assert [len(w) for w in initial] == [1, 2, 8, 2, 2, 2, 2]
    replay_initial_weights(monkeypatch, INIT_LAYERS, initial)
    monkeypatch.setattr(sys, "argv", ARGV + ["--save_path", str(tmp_path / "torch")])
    theirs = run_torch(TRAIN, __name__="__main__", modules=MODULES)

    assert ours["header"] in ours["_stdout"].splitlines()[0]
    mine, expected = _log(ours["_stdout"]), _log(theirs["_stdout"])
    assert [r[0] for r in mine] == [r[0] for r in expected] == list(range(1, 25))
    for row, want in zip(mine, expected):
        np.testing.assert_allclose(row[1], want[1], atol=2e-6)  # printed to 6 decimals
        assert (row[2] is None) == (want[2] is None)
        if row[2] is not None:
            np.testing.assert_allclose(row[2], want[2], atol=2e-6)
            assert row[4] == want[4]
        np.testing.assert_allclose(row[3], want[3], atol=1e-4)
    losses = [r[1] for r in mine]
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])
    assert all(0 <= r[4] <= 100 for r in mine if r[4] is not None)  # equal to torch's above
    # the newest periodic snapshot and the best one are kept, the older ones removed
    for folder in ("ember", "torch"):
        names = sorted(os.path.basename(f) for f in glob.glob(str(tmp_path / folder / "*")))
        assert [re.sub(r"_.*", "", n) for n in names] == ["best", "snapshot"], names
        assert names[1].endswith("_iter_24_model.pt")
