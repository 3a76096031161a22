"""Candidate scoring: the cached path equals the full one, padding adds nothing, and the
scores are log-probabilities over the whole vocabulary."""

import pytest
import torch
import torch.nn.functional as F

from assist.llm.lm import load_lm
from assist.llm.scoring import pad_candidates, pad_prompts, score_cached, score_uncached


@pytest.fixture(scope="module")
def lm(tiny_lm_dir):
    return load_lm(tiny_lm_dir)[0]


def random_batch(lm, prompt_lengths=(30, 7, 19), candidate_lengths=(1, 3, 5, 2, 6, 1, 4), owners=(2, 0, 1, 0, 2, 1, 2), seed=0):
    g = torch.Generator().manual_seed(seed)
    V = lm.config.vocab_size
    prompts = [torch.randint(4, V, (n,), generator=g).tolist() for n in prompt_lengths]
    candidates = [torch.randint(4, V, (n,), generator=g).tolist() for n in candidate_lengths]
    return prompts, candidates, list(owners)


def by_hand(lm, prompt, candidate):
    """sum_j log softmax(LM(prompt + candidate[:j]))[candidate[j]], one unpadded forward per token."""
    total = 0.0
    for j, token in enumerate(candidate):
        logits = lm(input_ids=torch.tensor([prompt + candidate[:j]])).logits[0, -1]
        total += float(F.log_softmax(logits.double(), dim=-1)[token])
    return total


@torch.inference_mode()
@pytest.mark.parametrize("group, max_rows", [(1, 1024), (2, 3), (32, 1024)])
def test_cached_scores_equal_uncached_scores(lm, group, max_rows):
    prompts, candidates, owners = random_batch(lm)
    P, C = pad_prompts(prompts, 0), pad_candidates(candidates, owners, 0)
    cached, full = score_cached(lm, P, C, max_rows, group), score_uncached(lm, P, C, max_rows=2)
    torch.testing.assert_close(cached.log_prob, full.log_prob, atol=1e-5, rtol=0)
    torch.testing.assert_close(cached.hidden, full.hidden, atol=1e-5, rtol=0)


@torch.inference_mode()
def test_scores_match_a_hand_computed_log_likelihood(lm):
    prompts, candidates, owners = random_batch(lm)
    scores = score_cached(lm, pad_prompts(prompts, 0), pad_candidates(candidates, owners, 0)).log_prob
    expected = torch.tensor([by_hand(lm, prompts[o], c) for c, o in zip(candidates, owners)], dtype=torch.float64)
    torch.testing.assert_close(scores.double(), expected, atol=1e-4, rtol=0)


@torch.inference_mode()
def test_padding_contributes_nothing(lm):
    prompts, candidates, owners = random_batch(lm)
    batched = score_cached(lm, pad_prompts(prompts, 0), pad_candidates(candidates, owners, 0)).log_prob
    for n, (candidate, owner) in enumerate(zip(candidates, owners)):
        for pad in (0, 7):  # the padding id does not matter either
            alone = score_cached(lm, pad_prompts([prompts[owner]], pad), pad_candidates([candidate], [0], pad)).log_prob
            torch.testing.assert_close(alone[0], batched[n], atol=1e-5, rtol=0)


@torch.inference_mode()
def test_scores_of_every_next_token_sum_to_one(lm):
    prompts, _, _ = random_batch(lm)
    V = lm.config.vocab_size
    C = pad_candidates([[v] for v in range(V)] * 2, [0] * V + [2] * V, 0)
    scores = score_cached(lm, pad_prompts(prompts, 0), C).log_prob.view(2, V)
    torch.testing.assert_close(scores.exp().sum(dim=1).double(), torch.ones(2, dtype=torch.float64), atol=1e-5, rtol=0)
    two_tokens = pad_candidates([[5, v] for v in range(V)], [1] * V, 0)  # over a second token too, given the first
    total = score_cached(lm, pad_prompts(prompts, 0), two_tokens).log_prob.exp().sum()
    first = score_cached(lm, pad_prompts(prompts, 0), pad_candidates([[5]], [1], 0)).log_prob.exp()[0]
    torch.testing.assert_close(total, first, atol=1e-6, rtol=1e-5)


def test_cached_scores_are_differentiable_like_the_full_ones(lm):
    prompts, candidates, owners = random_batch(lm)
    P, C = pad_prompts(prompts, 0), pad_candidates(candidates, owners, 0)
    grads = []
    for score in (score_cached, score_uncached):
        lm.zero_grad()
        score(lm, P, C).log_prob.sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in lm.parameters() if p.grad is not None]))
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1], atol=1e-4, rtol=1e-3)
    lm.zero_grad()


@torch.inference_mode()
def test_the_eager_attention_implementation_gives_the_same_scores(tiny_lm_dir, lm):
    from transformers import AutoModelForCausalLM

    eager = AutoModelForCausalLM.from_pretrained(tiny_lm_dir, attn_implementation="eager").eval()
    prompts, candidates, owners = random_batch(lm, seed=1)
    P, C = pad_prompts(prompts, 0), pad_candidates(candidates, owners, 0)
    torch.testing.assert_close(score_cached(eager, P, C).log_prob, score_cached(lm, P, C).log_prob, atol=1e-5, rtol=0)


@torch.inference_mode()
def test_a_gpt2_style_model_scores_the_same_with_and_without_the_cache(lm):
    from transformers import GPT2Config, GPT2LMHeadModel

    V = lm.config.vocab_size
    torch.manual_seed(0)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=V, n_embd=32, n_layer=2, n_head=2, n_positions=128, bos_token_id=2, eos_token_id=3)).eval()
    prompts, candidates, owners = random_batch(lm)
    P, C = pad_prompts(prompts, 0), pad_candidates(candidates, owners, 0)  # absolute positions: padding must not shift them
    torch.testing.assert_close(score_cached(gpt2, P, C, group=2).log_prob, score_uncached(gpt2, P, C).log_prob, atol=1e-5, rtol=0)
