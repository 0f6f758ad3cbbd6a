"""The GluonNLP real-script recipe of ``real_scripts.py``: ``word_language_model.py`` (AWD-LSTM) on a
generated corpus."""
from __future__ import annotations

import math
import os
import sys
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

os.environ.setdefault("OMP_NUM_THREADS", "1")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

from gluon_lrfinder import Learner  # noqa: E402

try:  # imported as benchmarks.advice.real_scripts_X, or next to real_script_check.py as a script's module
    from . import real_scripts as base
    from .recipe import LRAt, Recipe, Scores, Sweep
except ImportError:  # pragma: no cover - script use
    import real_scripts as base  # type: ignore[no-redef]
    from recipe import LRAt, Recipe, Scores, Sweep  # type: ignore[no-redef]


def _pseudo_words(rng: np.random.RandomState, n: int, syllables: Sequence[str], used: set) -> List[str]:
    words: List[str] = []
    while len(words) < n:
        word = "".join(rng.choice(syllables, size=rng.randint(1, 4)))
        if word not in used:
            used.add(word)
            words.append(word)
    return words


def grammar_corpus(n_tokens: int = 40000, seed: int = 0) -> List[str]:
    """A stand-in corpus: sentences of a small random grammar, ``<eos>`` after each.

    Made-up words in classes (determiners, adjectives, nouns of 5 kinds, verbs that take a
    subject of one kind, adverbs, prepositions, names), chosen with Zipf-like frequencies;
    sentences ``NP VP [PP] [and NP VP]``, with subject-verb agreement by kind and a few fixed
    phrases, so that a word-level model has both frequent and long-range structure to learn.

    Parameters
    ----------
    n_tokens : int, default 40000
        Tokens to make (whole sentences; the corpus stops at the first sentence past it).
    seed : int, default 0
        The grammar and the sentences.

    Returns
    -------
    list of str
        The tokens.
    """
    rng = np.random.RandomState(seed)
    syll = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    used: set = set()
    dets = ["the", "a", "every", "some", "this", "that", "no"]
    preps = ["in", "on", "under", "near", "with", "behind", "over", "into"]
    adjs = _pseudo_words(rng, 60, syll, used)
    nouns = [_pseudo_words(rng, 40, syll, used) for _ in range(5)]
    verbs_t = [_pseudo_words(rng, 15, syll, used) for _ in range(5)]
    verbs_i = [_pseudo_words(rng, 6, syll, used) for _ in range(5)]
    advs = _pseudo_words(rng, 25, syll, used)
    names = _pseudo_words(rng, 30, syll, used)

    def zipf(items: Sequence[str]) -> str:
        weights = 1.0 / np.arange(1, len(items) + 1)
        return items[rng.choice(len(items), p=weights / weights.sum())]

    def noun_phrase(kind: int) -> List[str]:
        if kind == 0 and rng.rand() < 0.3:
            return [zipf(names)]
        words = [zipf(dets)]
        if rng.rand() < 0.4:
            words.append(zipf(adjs))
        return words + [zipf(nouns[kind])]

    def clause() -> List[str]:
        kind = rng.randint(5)
        words = noun_phrase(kind)
        if rng.rand() < 0.7:
            words += [zipf(verbs_t[kind])] + noun_phrase((kind + 1 + rng.randint(2)) % 5)
        else:
            words += [zipf(verbs_i[kind])] + ([zipf(advs)] if rng.rand() < 0.5 else [])
        if rng.rand() < 0.35:
            words += [zipf(preps)] + noun_phrase(rng.randint(5))
        return words

    tokens: List[str] = []
    while len(tokens) < n_tokens:
        sentence = clause()
        if rng.rand() < 0.25:
            sentence += ["and"] + clause()
        tokens += sentence + ["<eos>"]
    return tokens


def zipf_corpus(vocab: int, n_tokens: int) -> List[str]:
    """``new_families.lm_corpus(vocab, n_tokens)`` (seed 0) as token strings ``w<id>``."""
    try:
        from .new_families import lm_corpus
    except ImportError:  # pragma: no cover - script use
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
        from benchmarks.advice.new_families import lm_corpus
    return [f"w{i}" for i in lm_corpus(vocab, n_tokens).tolist()]


class GluonNLPWordLM:
    """GluonNLP's word-level language model script (v0.10.x), AWD-LSTM, at small sizes.

    Parameters
    ----------
    epochs : int, default 8
        Passes over the training corpus of one run at the recipe's budget.
    batch_size, bptt : int
        20 and 35 (the script's defaults are 80 and 70, for WikiText-2's 2M tokens).
    emsize, nhid, nlayers : int
        64, 128, 3 (the script: 400, 1150, 3).
    n_tokens : int, default 40000
        Size of the stand-in corpus (90% train, 10% validation).
    corpus : {"grammar", "zipf"}, default "grammar"
        The stand-in corpus: :func:`grammar_corpus` (on which a constant rate near 10 trains
        best), or ``"zipf"``: ``new_families.lm_corpus(vocab, n_tokens)``, a Zipfian
        class-Markov corpus with per-word bigram followers (on which, as on real text, a
        constant rate near the script's default 30 trains best), its ids written as token
        strings for ``nlp.Vocab`` so that the script's ``CorpusBatchify`` pipeline is unchanged.
    vocab : int, default 2000
        Word types of the ``"zipf"`` corpus (unused by ``"grammar"``).
    """

    def __init__(self, epochs: int = 8, batch_size: int = 20, bptt: int = 35, emsize: int = 64, nhid: int = 128,
                 nlayers: int = 3, n_tokens: int = 40000, corpus: str = "grammar", vocab: int = 2000) -> None:
        if corpus not in ("grammar", "zipf"):
            raise ValueError(f"corpus must be 'grammar' or 'zipf', not {corpus!r}")
        self.epochs, self.batch_size, self.bptt = epochs, batch_size, bptt
        self.emsize, self.nhid, self.nlayers = emsize, nhid, nlayers
        self.n_tokens = n_tokens
        self.corpus, self.vocab = corpus, vocab
        # the script's defaults: dropout 0.4, weight_drop 0.5, drop_h 0.2, drop_i 0.65, drop_e 0.1
        self.dropouts = (0.4, 0.5, 0.2, 0.65, 0.1)
        self.clip = 0.25
        self.alpha, self.beta = 2.0, 1.0
        self.optimizer_params = {"momentum": 0.0, "wd": 1.2e-6}
        self._data: Optional[Tuple[mx.nd.NDArray, mx.nd.NDArray, int]] = None
        self._init: Optional[List[np.ndarray]] = None

    def data(self) -> Tuple[mx.nd.NDArray, mx.nd.NDArray, int]:
        """``(train (T, 20), valid (T, 10), vocabulary size)``, batchified as the script does."""
        if self._data is None:
            import gluonnlp as nlp

            if self.corpus == "grammar":
                tokens = grammar_corpus(self.n_tokens)
            else:
                tokens = zipf_corpus(self.vocab, self.n_tokens)
            cut = int(0.9 * len(tokens))
            train, valid = tokens[:cut], tokens[cut:]
            vocab = nlp.Vocab(counter=nlp.data.Counter(train), padding_token=None, bos_token=None)
            train_data = nlp.data.batchify.CorpusBatchify(vocab, self.batch_size)(train)
            valid_data = nlp.data.batchify.CorpusBatchify(vocab, 10)(valid)
            self._data = (train_data[:], valid_data[:], len(vocab))
        return self._data

    def iterations_per_epoch(self) -> int:
        """BPTT batches of one pass (random lengths averaging about ``bptt``)."""
        return int((len(self.data()[0]) - 2) / self.bptt)

    @property
    def budget(self) -> int:
        """Iterations of a run at the recipe's budget."""
        return self.epochs * self.iterations_per_epoch()

    def _model(self, train: bool, params: Any = None) -> gluon.HybridBlock:
        import gluonnlp as nlp

        cls = nlp.model.train.AWDRNN if train else nlp.model.AWDRNN
        kwargs = {"params": params} if params is not None else {}
        return cls("lstm", self.data()[2], self.emsize, self.nhid, self.nlayers, True, *self.dropouts, **kwargs)

    def fresh_model(self) -> gluon.HybridBlock:
        """``gluonnlp.model.train.AWDRNN`` at the fixed initial weights, hybridized as the script."""
        model = self._model(train=True)
        if self._init is None:
            mx.random.seed(base.INIT_SEED)
        model.initialize(mx.init.Xavier(), ctx=mx.cpu())
        model(mx.nd.zeros((2, self.batch_size)), model.begin_state(self.batch_size, func=mx.nd.zeros))
        if self._init is None:
            self._init = base._weights(model)
        else:
            base._load_weights(model, self._init)
        model.hybridize(static_alloc=True)
        return model

    def batches(self, seed: int) -> Iterator[Tuple[mx.nd.NDArray, mx.nd.NDArray, bool, int]]:
        """One pass of ``(data, target, first_of_pass, seq_len)`` with the script's random BPTT
        length (``bptt`` with probability 0.95, else ``bptt / 2``; then ~N(that, 5), at least 5)."""
        train = self.data()[0]
        rng = np.random.RandomState(seed)
        i = 0
        while i < len(train) - 1 - 1:
            bptt = self.bptt if rng.uniform() < 0.95 else self.bptt / 2
            seq_len = max(5, int(rng.normal(bptt, 5)))
            seq_len = min(seq_len, len(train) - 1 - i)
            yield train[i:i + seq_len], train[i + 1:i + 1 + seq_len], i == 0, seq_len
            i += seq_len

    def _loader(self, seed: int) -> _Passes:
        return _Passes(self, seed)

    def fit_batch(self, model: gluon.Block) -> Callable[[Any], Tuple[list, list, list]]:
        """The script's batch: detach the carried state, forward, joint loss with activation
        regularisation, backward, ``clip_global_norm`` 0.25, the ``seq_len / bptt`` rate scaling.

        For ``Learner(fit_batch=...)``, which then calls ``trainer.step(number of tokens)``: the
        per-token losses are back-propagated as a sum, clipped at 0.25 times the token count and
        scaled by ``seq_len / bptt``, so the update is the script's (loss / tokens, step(1),
        clip at 0.25, lr times ``seq_len / bptt``) exactly, but for the weight decay term, which
        the script scales by ``seq_len / bptt`` too (wd 1.2e-6).
        """
        import gluonnlp as nlp

        ce = gluon.loss.SoftmaxCrossEntropyLoss()
        ar = nlp.loss.ActivationRegularizationLoss(self.alpha)
        tar = nlp.loss.TemporalActivationRegularizationLoss(self.beta)
        params = [p for p in model.collect_params().values() if p.grad_req != "null"]
        state: Dict[str, Any] = {"hidden": None}

        def fit_batch(batch: Any) -> Tuple[list, list, list]:
            data, target, first, seq_len = batch
            if first or state["hidden"] is None:
                state["hidden"] = model.begin_state(self.batch_size, func=mx.nd.zeros)
            hidden = [[h.detach() for h in layer] for layer in state["hidden"]]
            with autograd.record():
                output, hidden, enc, dropped = model(data, hidden)
                loss = ce(output.reshape(-3, -1), target.reshape(-1)) + ar(*dropped) + tar(*enc)
            loss.backward()
            state["hidden"] = hidden
            tokens = loss.shape[0]
            grads = [p.grad() for p in params]
            gluon.utils.clip_global_norm(grads, self.clip * tokens)
            scale = seq_len / self.bptt
            if scale != 1.0:
                for g in grads:
                    g *= scale
            flat = target.reshape(-1)
            return [flat], [flat], [loss]

        return fit_batch

    def trainer(self, model: gluon.Block, lr: float) -> gluon.Trainer:
        """The script's trainer: SGD without momentum, wd 1.2e-6, ``update_on_kvstore=False``."""
        return gluon.Trainer(model.collect_params(), "sgd", dict(self.optimizer_params, learning_rate=lr),
                             update_on_kvstore=False)

    def sweep(self, seed: int) -> Sweep:
        """A range test through the Learner's ``fit_batch``, recorded in full up to ``base.LM_SWEEP['lr_end']``."""
        base.seed_everything(seed)
        model = self.fresh_model()
        with Learner(model, self._loader(seed), ctx=mx.cpu(), trainer=self.trainer(model, 30.0),
                     fit_batch=self.fit_batch(model)) as learner:
            return base._finder_sweep(learner, base.LM_SWEEP, "sgd")

    def evaluate(self, model: gluon.Block) -> Scores:
        """Validation log-perplexity, as the script's ``evaluate`` (batch 10, hidden carried)."""
        valid = self.data()[1]
        model_eval = self._model(train=False, params=model.collect_params())
        hidden = model_eval.begin_state(batch_size=10, func=mx.nd.zeros)
        ce = gluon.loss.SoftmaxCrossEntropyLoss()
        total, count, i = 0.0, 0, 0
        while i < len(valid) - 1 - 1:
            seq_len = min(self.bptt, len(valid) - 1 - i)
            output, hidden = model_eval(valid[i:i + seq_len], hidden)
            loss = ce(output.reshape(-3, -1), valid[i + 1:i + 1 + seq_len].reshape(-1))
            total += float(loss.sum().asscalar())
            count += loss.shape[0]
            i += self.bptt
        value = total / count
        if not math.isfinite(value):
            return {"loss": math.inf, "perplexity": math.inf}
        return {"loss": value, "perplexity": math.exp(min(value, 700.0))}

    def train(self, seed: int, lr_at: LRAt, iterations: int) -> Scores:
        """The script's loop (through the same ``fit_batch`` as the sweep) for ``iterations`` batches."""
        base.seed_everything(seed)
        model = self.fresh_model()
        trainer = self.trainer(model, lr_at(0))
        fit_batch = self.fit_batch(model)
        done, pass_seed = 0, seed
        while done < iterations:
            for batch in self.batches(pass_seed):
                if done >= iterations:
                    break
                trainer.set_learning_rate(lr_at(done))
                _, label, losses = fit_batch(batch)
                trainer.step(label[0].shape[0])
                done += 1
                if done % 50 == 0 and not math.isfinite(float(losses[0].mean().asscalar())):
                    return {"loss": math.inf, "perplexity": math.inf}
            pass_seed += 1000
        return self.evaluate(model)

    def recipe(self) -> Recipe:
        """This script as a :class:`~recipe.Recipe` (the grammar corpus's name has no corpus part)."""
        name = (f"GluonNLP word LM script / AWD-LSTM {self.nlayers}x{self.nhid} / SGD, clip 0.25 / "
                f"b{self.batch_size} bptt{self.bptt}")
        if self.corpus == "zipf":
            name += (f" / zipf corpus v{self.vocab} {self.n_tokens // 1000}k tokens emb{self.emsize} "
                     f"{self.epochs} epochs")
        return Recipe(
            name=name,
            family="language model", optimizer="sgd", budget=self.budget,
            sweep=self.sweep, train=self.train, default_lr=30.0,
            source="dmlc/gluon-nlp v0.10.x scripts/language_model/word_language_model.py",
            tags=("real-script", "lstm", "clipping", "stateful", "weight-dropout"),
        )


class _Passes:
    """Endless passes of :meth:`GluonNLPWordLM.batches` (a new random BPTT draw each pass)."""

    def __init__(self, lm: GluonNLPWordLM, seed: int) -> None:
        self.lm, self.seed, self.passes = lm, seed, 0

    def __iter__(self) -> Iterator[Tuple[mx.nd.NDArray, mx.nd.NDArray, bool, int]]:
        self.passes += 1
        return self.lm.batches(self.seed + 1000 * (self.passes - 1))


def gluonnlp_awd_lm(**kwargs: Any) -> Recipe:
    """GluonNLP's ``word_language_model.py`` recipe (see :class:`GluonNLPWordLM`)."""
    return GluonNLPWordLM(**kwargs).recipe()




#: The zipf-corpus configuration of :func:`gluonnlp_awd_lm_zipf` (chosen so that a constant rate
#: near the script's default 30 trains best; ``benchmarks/results/real_scripts_lm30.md``).
ZIPF_CONFIG: Dict[str, Any] = {"corpus": "zipf", "vocab": 2000, "n_tokens": 240000, "epochs": 8}


def gluonnlp_awd_lm_zipf(**kwargs: Any) -> Recipe:
    """GluonNLP's ``word_language_model.py`` recipe on the Zipfian corpus (:data:`ZIPF_CONFIG`,
    overridable by ``kwargs``), where a constant rate near the script's default 30 trains best."""
    return GluonNLPWordLM(**dict(ZIPF_CONFIG, **kwargs)).recipe()
