"""sentence-transformers on ember, where it is installed (it is not a test dependency: its
package requires PyTorch; .ci/run installs it without dependencies). A tiny BERT built from a
configuration and a word-level vocabulary written here (nothing downloaded) becomes a
``SentenceTransformer`` (Transformer, mean Pooling, Normalize) and a ``CrossEncoder``; the script
encodes sentences (NumPy and tensors, batch sizes, normalisation, truncation, token embeddings,
int8 and binary quantisation), compares them (``similarity`` with cosine, dot, euclidean and
manhattan, ``semantic_search``, ``paraphrase_mining``, ``community_detection``), saves and
reloads the model, scores and ranks pairs with the cross-encoder, and trains a few AdamW steps
per loss (MultipleNegativesRanking, its cached variant, CosineSimilarity, Triplet, CoSENT,
Matryoshka) in a plain loop, with ``torch`` resolved to ember in a fresh interpreter; the values
are checked here against NumPy.
tests/conformance/test_thirdparty_s17_sentence_transformers_vs_torch.py compares every value
with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("sentence_transformers") is None:  # (importing it imports torch)
    pytest.skip("sentence-transformers is not installed", allow_module_level=True)

SCRIPT = textwrap.dedent('''
    import json
    import tempfile

    import torch
    import transformers
    from sentence_transformers import CrossEncoder, SentenceTransformer, util
    from sentence_transformers.sentence_transformer import losses
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformers.logging.set_verbosity_error()


    def out(v):
        """tensors and arrays as lists, floats rounded to 6 digits"""
        if hasattr(v, "tolist"):
            v = v.tolist()
        if isinstance(v, float):
            return round(v, 6)
        if isinstance(v, (list, tuple)):
            return [out(x) for x in v]
        if isinstance(v, dict):
            return {str(k): out(x) for k, x in sorted(v.items())}
        return v


    WORDS = ("a the cat dog sat on mat ran in park man woman is playing guitar piano eats food "
             "bread sky blue red car fast slow").split()
    SENTENCES = ["the cat sat on the mat", "a dog ran in the park", "a man is playing guitar",
                 "a woman is playing piano", "the man eats bread", "the sky is blue",
                 "a red car is fast", "the dog sat on a mat"]

    root = tempfile.mkdtemp()
    vocab = root + "/vocab.txt"
    with open(vocab, "w") as f:
        f.write("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\\n")
    tokenizer = transformers.BertTokenizerFast(vocab)  # (4.x: vocab_file, 5.x: vocab)
    config = transformers.BertConfig(vocab_size=len(WORDS) + 5, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=64,
                                     max_position_embeddings=32,
                                     initializer_range=0.2, hidden_dropout_prob=0.0,
                                     attention_probs_dropout_prob=0.0)  # training deterministic
    torch.set_num_threads(1)  # (tiny matrices: threads only cost time)
    torch.manual_seed(0)
    bert_dir, cross_dir = root + "/bert", root + "/cross"
    transformers.BertModel(config).save_pretrained(bert_dir)
    tokenizer.save_pretrained(bert_dir)
    config.num_labels = 1  # (BertModel ignores it; the cross-encoder's head outputs one score)
    transformers.BertForSequenceClassification(config).save_pretrained(cross_dir)
    tokenizer.save_pretrained(cross_dir)

    transformer = Transformer(bert_dir, max_seq_length=16)
    model = SentenceTransformer(modules=[transformer, Pooling(32, "mean"), Normalize()],
                                device="cpu")
    model.eval()
    report = {"sentences": SENTENCES}

    # encoding: numpy and tensors, batch sizes, token embeddings for pooling by hand
    emb = model.encode(SENTENCES, batch_size=3)
    emb_t = model.encode(SENTENCES, batch_size=8, convert_to_tensor=True)
    report["encode"] = {"numpy": out(emb), "dtype": str(emb.dtype), "shape": list(emb.shape),
                        "tensor_batch8": out(emb_t), "tensor_type": type(emb_t).__name__}
    features = model.preprocess(SENTENCES[:3])
    with torch.no_grad():
        pooled = model[1](model[0](dict(features)))  # the transformer's and the pooling's outputs
    report["tokens"] = {"input_ids": out(features["input_ids"]),
                        "attention_mask": out(features["attention_mask"]),
                        "token_embeddings": out(pooled["token_embeddings"]),
                        "pooled": out(pooled["sentence_embedding"])}
    plain = SentenceTransformer(modules=[Transformer(bert_dir), Pooling(32, "cls")], device="cpu")
    report["encode"]["cls_normalized"] = out(
        plain.encode(SENTENCES[:3], normalize_embeddings=True, convert_to_numpy=True))
    report["encode"]["cls_raw"] = out(plain.encode(SENTENCES[:3]))
    report["encode"]["single"] = out(model.encode(SENTENCES[0]))
    report["encode"]["truncated"] = out(model.encode(SENTENCES[:2], truncate_dim=8))
    report["encode"]["token_embeddings"] = [out(t) for t in model.encode(
        SENTENCES[:2], output_value="token_embeddings")]
    report["encode"]["int8"] = out(model.encode(SENTENCES, precision="int8"))
    report["encode"]["ubinary"] = out(model.encode(SENTENCES, precision="ubinary"))

    # similarities and search
    report["similarity"] = {"cosine": out(model.similarity(emb_t[:4], emb_t[4:]))}
    model.similarity_fn_name = "dot"
    report["similarity"]["dot"] = out(model.similarity(emb[:4], emb[4:]))
    report["similarity"]["pairwise_dot"] = out(model.similarity_pairwise(emb[:4], emb[4:]))
    for name in ("euclidean", "manhattan"):
        model.similarity_fn_name = name
        report["similarity"][name] = out(model.similarity(emb_t[:4], emb_t[4:]))
    model.similarity_fn_name = "cosine"
    report["similarity"]["cos_sim"] = out(util.cos_sim(emb[:2], emb))
    report["similarity"]["dot_score"] = out(util.dot_score(emb_t[:2], emb_t))
    hits = util.semantic_search(emb_t[:2], emb_t[2:], top_k=3)
    report["semantic_search"] = [[[h["corpus_id"], round(h["score"], 6)] for h in q] for q in hits]
    mined = util.paraphrase_mining(model, SENTENCES, top_k=2)
    report["paraphrase_mining"] = [[round(s, 6), i, j] for s, i, j in mined[:6]]
    report["communities"] = util.community_detection(emb_t, threshold=0.93, min_community_size=2)

    # save / load round trip
    saved = root + "/saved"
    model.save(saved)
    loaded = SentenceTransformer(saved, device="cpu")
    report["reload"] = {"embeddings": out(loaded.encode(SENTENCES, batch_size=4)),
                        "modules": [type(m).__name__ for m in loaded]}

    # cross-encoder scoring: probabilities, raw logits, and ranking by the scores
    cross = CrossEncoder(cross_dir, device="cpu")
    pairs = [(SENTENCES[0], doc) for doc in SENTENCES[1:]]
    report["cross_encoder"] = {
        "scores": out(cross.predict(pairs, batch_size=3)),
        "logits": out(cross.predict(pairs, activation_fn=torch.nn.Identity())),
        "rank": [r["corpus_id"] for r in cross.rank(SENTENCES[0], SENTENCES[1:])]}

    # training: a few AdamW steps per loss in a plain loop
    model.train()
    anchors, positives, negatives = SENTENCES[:4], SENTENCES[7:3:-1], SENTENCES[4:8]
    scores = torch.tensor([0.9, 0.1, 0.8, 0.2])
    runs = {"mnrl": (losses.MultipleNegativesRankingLoss(model), [anchors, positives], None),
            "mnrl_negatives": (losses.MultipleNegativesRankingLoss(model),
                               [anchors, positives, negatives], None),
            "cosine": (losses.CosineSimilarityLoss(model), [anchors, negatives], scores),
            "triplet": (losses.TripletLoss(model), [anchors, positives, negatives], None),
            "cosent": (losses.CoSENTLoss(model), [anchors, negatives], scores),
            "cached_mnrl": (losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=2),
                            [anchors, positives, negatives], None),
            "matryoshka": (losses.MatryoshkaLoss(model, losses.MultipleNegativesRankingLoss(model),
                                                 matryoshka_dims=[32, 16, 8]),
                           [anchors, positives], None)}
    report["training"] = {}
    start = {k: v.clone() for k, v in model.state_dict().items()}
    for name, (loss_fn, columns, labels) in runs.items():
        model.load_state_dict(start)  # each loss trains the same initial model
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        history = []
        for step in range(4):
            feats = [model.preprocess(col) for col in columns]
            loss = loss_fn(feats, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(round(loss.item(), 6))
        report["training"][name] = history
    model.eval()
    report["training"]["embeddings_after"] = out(model.encode(SENTENCES[:2]))
    print(json.dumps(report))
''')


# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "sentence_transformers_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("st"))


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return a @ b.T


def test_embeddings_pool_the_token_embeddings(report):
    encode, tokens = report["encode"], report["tokens"]
    emb = np.array(encode["numpy"])
    assert encode["shape"] == [8, 32] and encode["dtype"] == "float32"
    assert encode["tensor_type"] == "Tensor"
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    # batch sizes, a single sentence and the reloaded model give the same embeddings
    np.testing.assert_allclose(encode["tensor_batch8"], emb, atol=2e-6)
    np.testing.assert_allclose(encode["single"], emb[0], atol=2e-6)
    np.testing.assert_allclose(report["reload"]["embeddings"], emb, atol=2e-6)
    assert report["reload"]["modules"] == ["Transformer", "Pooling", "Normalize"]
    # mean pooling over the attention mask, then L2 normalisation
    hidden, mask = np.array(tokens["token_embeddings"]), np.array(tokens["attention_mask"])
    mean = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    np.testing.assert_allclose(tokens["pooled"], mean, atol=1e-5)
    np.testing.assert_allclose(emb[:3], mean / np.linalg.norm(mean, axis=1, keepdims=True),
                               atol=1e-5)
    for sentence, n_tokens in zip(encode["token_embeddings"], mask.sum(1)):
        assert len(sentence) == n_tokens
    np.testing.assert_allclose(encode["token_embeddings"][1], hidden[1, :mask[1].sum()],
                               atol=1e-5)
    cls = np.array(encode["cls_raw"])
    np.testing.assert_allclose(encode["cls_normalized"],
                               cls / np.linalg.norm(cls, axis=1, keepdims=True), atol=1e-5)
    np.testing.assert_allclose(encode["truncated"], emb[:2, :8], atol=2e-6)


def test_quantised_embeddings(report):
    emb = np.array(report["encode"]["numpy"])
    lo, hi = emb.min(0), emb.max(0)
    buckets = np.clip(np.floor((emb - lo) / ((hi - lo) / 255)), 0, 255) - 128
    # (floor of a value rounded in the report: one bucket either way at a boundary)
    assert np.abs(np.array(report["encode"]["int8"]) - buckets).max() <= 1
    assert report["encode"]["ubinary"] == np.packbits(emb > 0, axis=-1).tolist()


def test_similarities_and_search(report):
    emb, similarity = np.array(report["encode"]["numpy"]), report["similarity"]
    queries, corpus = emb[:4], emb[4:]
    np.testing.assert_allclose(similarity["cosine"], _cosine(queries, corpus), atol=1e-5)
    np.testing.assert_allclose(similarity["dot"], queries @ corpus.T, atol=1e-5)
    np.testing.assert_allclose(similarity["pairwise_dot"], (queries * corpus).sum(1), atol=1e-5)
    difference = queries[:, None] - corpus[None]
    np.testing.assert_allclose(similarity["euclidean"], -np.linalg.norm(difference, axis=-1),
                               atol=1e-5)
    np.testing.assert_allclose(similarity["manhattan"], -np.abs(difference).sum(-1), atol=1e-5)
    np.testing.assert_allclose(similarity["cos_sim"], _cosine(emb[:2], emb), atol=1e-5)
    np.testing.assert_allclose(similarity["dot_score"], emb[:2] @ emb.T, atol=1e-5)
    cosine = _cosine(emb, emb)
    for q, hits in enumerate(report["semantic_search"]):
        best = np.argsort(-cosine[q, 2:])[:3]
        assert [corpus_id for corpus_id, _ in hits] == best.tolist()
        np.testing.assert_allclose([s for _, s in hits], cosine[q, 2:][best], atol=1e-5)
    mined = report["paraphrase_mining"]
    scores = [s for s, _, _ in mined]
    assert scores == sorted(scores, reverse=True)
    for score, i, j in mined:
        assert np.isclose(score, cosine[i, j], atol=1e-5)
    assert np.isclose(scores[0], (cosine - 2 * np.eye(8)).max(), atol=1e-5)
    members = [i for community in report["communities"] for i in community]
    assert len(members) == len(set(members))
    for community in report["communities"]:  # the centre first, then its neighbours
        assert len(community) >= 2 and (cosine[community[0], community] >= 0.93 - 1e-5).all()


def test_cross_encoder_scores(report):
    cross = report["cross_encoder"]
    np.testing.assert_allclose(cross["scores"], 1 / (1 + np.exp(-np.array(cross["logits"]))),
                               atol=1e-5)
    assert cross["rank"] == np.argsort(-np.array(cross["logits"]), kind="stable").tolist()


def test_losses_decrease(report):
    training = report["training"]
    for name in ("mnrl", "mnrl_negatives", "cosine", "triplet", "cosent", "cached_mnrl",
                 "matryoshka"):
        losses = training[name]
        assert len(losses) == 4 and losses[-1] < losses[0], (name, losses)
    # the cached loss is MultipleNegativesRankingLoss computed in mini-batches: the same values
    np.testing.assert_allclose(training["cached_mnrl"], training["mnrl_negatives"], rtol=1e-5)
    # the first MultipleNegativesRankingLoss by hand: cross-entropy of scaled cosines
    emb = np.array(report["encode"]["numpy"])
    logits = 20 * _cosine(emb[:4], emb[7:3:-1])
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    assert np.isclose(training["mnrl"][0], -np.diag(log_softmax).mean(), rtol=1e-4)
    assert not np.allclose(training["embeddings_after"], emb[:2], atol=1e-3)
