"""What happens in one simulated run, drawn deterministically from the seed and the run's identity.

Everything random in the simulator comes from ``random.Random`` instances seeded with strings (never the
global generator). A run's stream is ``"{seed}:{key}"`` where the key names what the run is -- agent, start
endpoint, scenario, personality, test profile -- and how many such runs this simulator created before
(see ``SimState.create_result``). So the same seed and the same requests give the same outcomes, and,
unlike a key on result ids, concurrent gates of a config get the same outcomes whichever start arrives
first. Repeats of a run (frequency, rerun) are new calls and draw new outcomes.

How a run's verdict is decided (a simplified rubric, api-contracts §A7):

- with probability ``timeout`` the run never connects (status ``timeout``), else with ``infra_error`` it
  fails to connect (status ``failed``, an ``error_message``, no transcript); neither is ever a success;
- otherwise the run connects and succeeds with probability ``success``. A successful run meets its expected
  outcome (score 100) and passes every rubric metric. A failed run either misses its expected outcome
  (score 0) or half-meets it (score 50) while a rubric metric fails;
- non-rubric metrics are drawn from the agent's distributions independently of the verdict (continuous
  scores are a little lower on failed runs), as on the real platform where only rubric rules decide.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from runner.simulator.world import Agent, Metric, MetricDist, Personality, Scenario, Timing

INFRA_ERRORS = (
    "Failed to connect: websocket handshake timed out after 10s",
    "SIP 503 Service Unavailable from the agent endpoint",
    "The agent did not answer the call",
)


class RunKind(StrEnum):
    CONNECTED = "connected"  # the call happened and was evaluated
    INFRA = "infra"  # could not connect: final status failed
    TIMEOUT = "timeout"  # never connected within the dial window: final status timeout


@dataclass(frozen=True, slots=True)
class MetricScore:
    metric: Metric
    passed: bool | None  # binary only
    score: float | None  # binary 5/0, continuous 0-5, numeric raw; None for enum
    label: str | None  # enum only
    explanation: str


@dataclass(frozen=True, slots=True)
class Turn:
    at: float  # seconds since the call started
    speaker: str
    text: str


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: RunKind
    success: bool
    talk_time: float  # seconds of conversation (0 when the call never connected)
    queue_delay: float  # pending -> in_queue
    start_delay: float  # in_queue -> running, before waiting for a concurrency slot
    eval_time: float  # evaluating -> completed
    fail_after: float  # running -> failed (INFRA only)
    expected_score: int  # 0, 50 or 100
    explanation: tuple[str, ...]
    alignments: tuple[tuple[str, bool], ...]  # (prompt part, aligned)
    metrics: tuple[MetricScore, ...]
    transcript: tuple[Turn, ...]
    error_message: str
    ended_reason: str


def _uniform(rng: random.Random, bounds: tuple[float, float]) -> float:
    return round(rng.uniform(*bounds), 3)


def _prompt_parts(prompt: str) -> list[str]:
    parts = [p.strip() for p in prompt.replace("\n", " ").split(".") if p.strip()]
    return parts or ["The agent resolves the caller's request"]


def draw_outcome(
    *,
    seed: int,
    key: str,
    agent: Agent,
    scenario: Scenario,
    personality: Personality | None,
    metrics: tuple[Metric, ...],
    timing: Timing,
) -> Outcome:
    """The complete, deterministic outcome of the run identified by ``key``."""
    quality = agent.quality_for(scenario.id)
    rng = random.Random(f"{seed}:{key}")  # noqa: S311 - simulation, not crypto
    # Timing gets its own stream so that changing a world's timing never changes verdicts.
    trng = random.Random(f"{seed}:{key}:timing")  # noqa: S311
    queue_delay = _uniform(trng, timing.queue)
    start_delay = _uniform(trng, timing.start)
    eval_time = _uniform(trng, timing.evaluation)
    fail_after = _uniform(trng, timing.infra_fail_after)
    talk_time = float(round(trng.uniform(*quality.duration)))

    roll = rng.random()
    if roll < quality.timeout + quality.infra_error:
        kind = RunKind.TIMEOUT if roll < quality.timeout else RunKind.INFRA
        message = (
            "The call was never connected within the dial window"
            if kind is RunKind.TIMEOUT
            else rng.choice(INFRA_ERRORS)
        )
        return Outcome(
            kind=kind,
            success=False,
            talk_time=0.0,
            queue_delay=queue_delay,
            start_delay=start_delay,
            eval_time=0.0,
            fail_after=fail_after,
            expected_score=0,
            explanation=(),
            alignments=(),
            metrics=(),
            transcript=(),
            error_message=message,
            ended_reason="dial-window-expired" if kind is RunKind.TIMEOUT else "error-connecting",
        )

    success = rng.random() < quality.success
    rubric = [m for m in metrics if m.rubric]
    # A failure is "expected outcome missed" or, when the world has rubric metrics, "a policy broken".
    rubric_breach = (not success) and bool(rubric) and rng.random() < 0.5
    failed_rubric = rng.choice(rubric) if rubric_breach else None
    parts = _prompt_parts(scenario.expected_outcome_prompt)
    if success:
        expected_score, aligned = 100, [True] * len(parts)
    elif rubric_breach:
        expected_score, aligned = 50, [i % 2 == 0 for i in range(len(parts))]
    else:
        expected_score, aligned = 0, [False] * len(parts)
    explanation = tuple(
        ("✅ " if ok else "❌ ") + part + "." for part, ok in zip(parts, aligned, strict=True)
    )

    scores = tuple(
        _score(rng, m, quality.metrics.get(m.id), success, forced=_forced(m, success, failed_rubric))
        for m in metrics
    )
    transcript = _transcript(rng, scenario, personality, success, scores, talk_time)
    return Outcome(
        kind=RunKind.CONNECTED,
        success=success,
        talk_time=talk_time,
        queue_delay=queue_delay,
        start_delay=start_delay,
        eval_time=eval_time,
        fail_after=fail_after,
        expected_score=expected_score,
        explanation=explanation,
        alignments=tuple(zip(parts, aligned, strict=True)),
        metrics=scores,
        transcript=transcript,
        error_message="",
        ended_reason="customer-ended-call" if success else "agent-ended-call",
    )


def _forced(metric: Metric, success: bool, failed_rubric: Metric | None) -> bool | None:
    """Rubric metrics agree with the verdict: all pass on success, the chosen one fails on a breach."""
    if not metric.rubric:
        return None
    if success:
        return True
    return False if failed_rubric is not None and metric.id == failed_rubric.id else None


def _score(
    rng: random.Random, metric: Metric, dist: MetricDist | None, success: bool, forced: bool | None
) -> MetricScore:
    dist = dist or MetricDist()
    if metric.is_binary:
        passed = (
            forced
            if forced is not None
            else rng.random() < (1.0 if dist.pass_prob is None else dist.pass_prob)
        )
        why = f"{metric.name}: " + ("criteria met." if passed else "criteria not met in this call.")
        return MetricScore(metric, passed, 5.0 if passed else 0.0, None, why)
    if metric.type == "enum":
        weights = dist.weights or tuple((v, 1.0) for v in metric.enum_values)
        label = rng.choices([w[0] for w in weights], weights=[w[1] for w in weights])[0]
        return MetricScore(metric, None, None, label, f"The call was judged {label}.")
    mean = dist.mean if dist.mean is not None else (3.5 if metric.type == "continuous_qualitative" else 0.0)
    value = rng.gauss(mean, dist.sd)
    if metric.type == "continuous_qualitative" and not success:
        value -= 1.0  # unhappy callers on failed calls
    if dist.low is not None:
        value = max(dist.low, value)
    if dist.high is not None:
        value = min(dist.high, value)
    if metric.type == "continuous_qualitative":
        return MetricScore(metric, None, round(value, 1), None, f"Rated {value:.1f} out of 5.")
    value = round(value) if metric.unit == "ms" else round(value, 2)
    return MetricScore(metric, None, float(value), None, f"Measured {value:g} {metric.unit}".rstrip() + ".")


def _transcript(
    rng: random.Random,
    scenario: Scenario,
    personality: Personality | None,
    success: bool,
    scores: tuple[MetricScore, ...],
    talk_time: float,
) -> tuple[Turn, ...]:
    greeted = all(s.passed is not False for s in scores if s.metric.name == "Greeting")
    goal = scenario.instructions or scenario.name
    lines = [
        ("Main Agent", "Hello, thank you for calling. This is the support assistant, how can I help?")
        if greeted
        else ("Main Agent", "Yes?"),
        ("Testing Agent", f"Hi. {goal}"),
        ("Main Agent", "Of course, let me look into that for you."),
        (
            "Testing Agent",
            "Please hurry, I don't have much time."
            if personality and "Impatient" in personality.name
            else "Thanks, I'll wait.",
        ),
        ("Main Agent", "I have taken care of that for you. Is there anything else I can help with?")
        if success
        else ("Main Agent", "I'm sorry, I can't help with that right now."),
        (
            "Testing Agent",
            "Great, thank you. Bye! 👋" if success else "That's not what I asked for. Goodbye.",
        ),
    ]
    step = talk_time / len(lines)
    return tuple(
        Turn(at=round(i * step + rng.uniform(0, step / 2), 1), speaker=who, text=text)
        for i, (who, text) in enumerate(lines)
    )
