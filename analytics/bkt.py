"""Bayesian Knowledge Tracing: a learner either knows a skill or not; each answer updates
the probability that they know it (Corbett & Anderson 1995), and `fit` learns a skill's four
parameters from answer sequences by expectation-maximisation (Baum-Welch on the two-state
hidden Markov model, no forgetting)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Kept inside these bounds so that a fit cannot swap the meaning of the states (guess and
# slip past one half would make "knows it" the state that answers worse).
_LOW, _HIGH, _NOISE_HIGH = 0.001, 0.999, 0.45


@dataclass(frozen=True)
class Parameters:
    p_init: float = 0.3  # knows the skill before the first answer
    p_learn: float = 0.1  # learns it at an answer
    p_slip: float = 0.1  # answers wrong though knowing it
    p_guess: float = 0.2  # answers right without knowing it

    def as_dict(self) -> dict[str, float]:
        return {
            "p_init": self.p_init,
            "p_learn": self.p_learn,
            "p_slip": self.p_slip,
            "p_guess": self.p_guess,
        }


DEFAULT = Parameters()


def for_skill(fitted: Mapping[str, Parameters], skill: str) -> Parameters:
    """A skill's fitted parameters, else the tenant's fitted default ("") else DEFAULT."""
    return fitted.get(skill) or fitted.get("") or DEFAULT


def predict_correct(mastery: float, parameters: Parameters) -> float:
    """The probability that the next answer is right."""
    return mastery * (1 - parameters.p_slip) + (1 - mastery) * parameters.p_guess


def update(mastery: float | None, correct: bool, parameters: Parameters) -> float:
    """The probability of mastery after one more answer (None: no answer before this)."""
    prior = parameters.p_init if mastery is None else mastery
    slip, guess = parameters.p_slip, parameters.p_guess
    if correct:
        knows = prior * (1 - slip)
        posterior = knows / (knows + (1 - prior) * guess)
    else:
        knows = prior * slip
        posterior = knows / (knows + (1 - prior) * (1 - guess))
    return posterior + (1 - posterior) * parameters.p_learn


@dataclass(frozen=True)
class Fit:
    parameters: Parameters
    sequences: int
    observations: int
    iterations: int
    log_likelihood: float


def _clamp(value: float, high: float = _HIGH) -> float:
    return min(high, max(_LOW, value))


def fit(
    sequences: Sequence[Sequence[bool]],
    start: Parameters = DEFAULT,
    max_iterations: int = 200,
    tolerance: float = 1e-6,
) -> Fit:
    """Maximum-likelihood parameters for answer sequences (one per learner, in time order)."""
    parameters = start
    previous = -math.inf
    used = [sequence for sequence in sequences if sequence]
    iterations = 0
    log_likelihood = previous
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - reported after the loop
        totals = [0.0] * 7
        log_likelihood = 0.0
        for sequence in used:
            log_likelihood += _accumulate(sequence, parameters, totals)
        first_known, learned, could_learn, known_wrong, known, unknown_right, unknown = totals
        parameters = Parameters(
            p_init=_clamp(first_known / len(used)),
            p_learn=_clamp(learned / could_learn if could_learn else parameters.p_learn),
            p_slip=_clamp(known_wrong / known if known else parameters.p_slip, _NOISE_HIGH),
            p_guess=_clamp(unknown_right / unknown if unknown else parameters.p_guess, _NOISE_HIGH),
        )
        if log_likelihood - previous < tolerance:
            break
        previous = log_likelihood
    return Fit(parameters, len(used), sum(map(len, used)), iterations, log_likelihood)


def _accumulate(sequence: Sequence[bool], parameters: Parameters, totals: list[float]) -> float:
    """One sequence's expected counts (scaled forward-backward), added to `totals`:
    P(known at the first answer), expected unknown -> known transitions, expected chances
    to learn (unknown before a next answer), expected wrong answers while known, expected
    answers while known, right answers while unknown, answers while unknown. Returns the
    sequence's log-likelihood."""
    learn, slip, guess = parameters.p_learn, parameters.p_slip, parameters.p_guess
    # Per answer: (P(answer | unknown), P(answer | known)).
    emitted = [(guess, 1 - slip) if correct else (1 - guess, slip) for correct in sequence]
    forward: list[tuple[float, float]] = []
    scales: list[float] = []
    unknown, known = 1 - parameters.p_init, parameters.p_init
    for step, (e_unknown, e_known) in enumerate(emitted):
        if step:
            unknown, known = unknown * (1 - learn), unknown * learn + known
        unknown, known = unknown * e_unknown, known * e_known
        scale = unknown + known
        unknown, known = unknown / scale, known / scale
        forward.append((unknown, known))
        scales.append(scale)
    back_unknown, back_known, next_known = 1.0, 1.0, 1.0
    for step in range(len(sequence) - 1, -1, -1):
        f_unknown, f_known = forward[step]
        g_unknown, g_known = f_unknown * back_unknown, f_known * back_known
        if sequence[step]:
            totals[5] += g_unknown
        else:
            totals[3] += g_known
        totals[4] += g_known
        totals[6] += g_unknown
        if step + 1 < len(sequence):
            n_known = emitted[step + 1][1]
            totals[1] += f_unknown * learn * n_known * next_known / scales[step + 1]
            totals[2] += g_unknown
        if step == 0:
            totals[0] += g_known
        next_known = back_known
        e_unknown, e_known = emitted[step]
        back_unknown, back_known = (
            ((1 - learn) * e_unknown * back_unknown + learn * e_known * back_known) / scales[step],
            e_known * back_known / scales[step],
        )
    return sum(math.log(scale) for scale in scales)
