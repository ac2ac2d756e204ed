"""JSON shapes of the Cekura API (api-contracts §A3.5, §A4, §A8, §A11), rendered from the state at an instant.

Counters are integers, ``success_rate`` is a percentage 0-100 (100 x success / total, 0.0 without runs),
the detail's ``runs`` is a map keyed by ``str(run id)`` while start/list responses carry an array of run
summaries, and binary metrics follow the ``metric_style`` switch:

- ``legacy``: ``type`` binary_workflow_adherence|binary_qualitative + ``score`` 5/0 (+ ``score_normalized``);
- ``new``: ``type``/``eval_type`` "binary" + ``passed``;
- ``both`` (default, what the platform sends today): all of the above on each item.
"""

from __future__ import annotations

from datetime import UTC, datetime

from runner.simulator import aggregates
from runner.simulator.aggregates import JSON
from runner.simulator.outcomes import MetricScore
from runner.simulator.state import ResultRecord, RunState, SimState, TestSet


def mm_ss(seconds: float) -> str:
    total = round(seconds)
    return f"{total // 60:02d}:{total % 60:02d}"


class Renderer:
    def __init__(self, state: SimState, *, epoch: float, metric_style: str) -> None:
        self.state = state
        self.epoch = epoch  # unix time of simulated second 0
        self.style = metric_style

    def iso(self, t: float) -> str:
        return datetime.fromtimestamp(self.epoch + t, UTC).isoformat().replace("+00:00", "Z")

    # -- runs ------------------------------------------------------------------------------------------------

    def run_summary(self, rs: RunState) -> JSON:
        rec = rs.record
        scenario = self.state.scenario(rec.plan.scenario_id)
        agent = self.state.world.agents[self.state.results[rec.result_id].spec.agent_id]
        return {
            "id": rec.id,
            "status": rs.status,
            "scenario": rec.plan.scenario_id,
            "scenario_name": scenario.name if scenario else "Scenario Deleted",
            "number": None,
            "inbound_number": agent.inbound_number,
            "test_profile_data": self.test_profile_data(rec.plan.test_profile_id),
            "outbound_dial_window_opens_at": None,
            "outbound_dial_window_seconds": None,
            "outbound_dial_window_closes_at": None,
        }

    def test_profile_data(self, profile_id: int | None) -> JSON | None:
        profile = None if profile_id is None else self.state.world.test_profiles.get(profile_id)
        if profile is None:
            return None
        return {"id": profile.id, "name": profile.name, "information": dict(profile.information)}

    def run(self, rs: RunState) -> JSON:
        rec, out = rs.record, rs.record.outcome
        result = self.state.results[rec.result_id]
        spec = result.spec
        agent = self.state.world.agents[spec.agent_id]
        scenario = self.state.scenario(rec.plan.scenario_id)
        pid = rec.plan.personality_id
        personality = None if pid is None else self.state.world.personalities.get(pid)
        done = rs.evaluated
        if rs.status in ("failed", "timeout"):
            error = out.error_message
        else:
            error = "Call ended by an end_calls request." if rs.status == "cancelled" else ""
        started = rec.timeline.started_at
        ov = rec.overrides
        body: JSON = {
            "id": rec.id,
            "scenario": rec.plan.scenario_id,
            "scenario_name": scenario.name if scenario else "Scenario Deleted",
            "personality": pid,
            "personality_name": personality.name if personality else "",
            "agent": agent.id,
            "result_id": result.id,
            "result_name": self.result_name(result),
            "status": rs.status,
            "success": rs.success,
            "evaluation_status": ov.get("evaluation_status", ("success" if rs.success else "failure"))
            if rs.terminal or "evaluation_status" in ov
            else None,
            "is_reviewed": ov.get("is_reviewed", False),
            "feedback": ov.get("feedback", ""),
            "error_message": ov.get("error_message", error),
            "scenario_instructions": ov.get(
                "scenario_instructions", scenario.instructions if scenario else ""
            ),
            "trace_id": ov.get("trace_id", ""),
            "expected_outcome_prompt": scenario.expected_outcome_prompt if scenario else "",
            "expected_outcome": self.expected_outcome(rs) if done else None,
            "evaluation": {"metrics": [self.metric(m) for m in out.metrics]} if done else None,
            "rubric": [self.rubric(m) for m in out.metrics if m.metric.rubric] if done else None,
            "critical_categories": [],
            "transcript": "\n".join(f"[{mm_ss(t.at)}] {t.speaker}: {t.text}" for t in out.transcript)
            if done
            else "",
            "transcript_object": [
                {"role": t.speaker, "content": t.text, "timestamp": t.at} for t in out.transcript
            ]
            if done
            else [],
            "duration": mm_ss(out.talk_time) if done else "00:00",
            "voice_recording_url": f"https://recordings.sim.invalid/{rec.id}.wav"
            if done and not spec.run_as_text
            else "",
            "timestamp": self.iso(result.created_at),
            "executed_at": self.iso(started) if rs.executed else None,
            "inbound_number": agent.inbound_number,
            "outbound_number": f"+1555020{rec.id % 10000:04d}",
            "agent_number": agent.inbound_number,
            "metadata": {"ended_reason": out.ended_reason}
            if rs.terminal and rs.status != "cancelled"
            else {},
            "call_id": f"sim-call-{rec.id}",
            "provider_call_id": f"sim-call-{rec.id}",
            "run_as_text": spec.run_as_text,
            "run_type": spec.run_type,
            "test_profile_data": self.test_profile_data(rec.plan.test_profile_id),
            "mocked_tool_names": list(spec.mock_tool_names or ()),
            "generated_mock_tool_entries": [],
            "outbound_dial_window_opens_at": None,
            "outbound_dial_window_seconds": None,
            "outbound_dial_window_closes_at": None,
            "testing_channel_index": 0,
        }
        body.update({k: v for k, v in rec.plan.details.items() if k not in body})
        return body

    def expected_outcome(self, rs: RunState) -> JSON:
        out = rs.record.outcome
        alignments = [
            {"outcome": part if ok else f"Not observed: {part}", "prompt_part": part, "aligned": ok}
            for part, ok in out.alignments
        ]
        return {
            "score": out.expected_score,
            "explanation": list(out.explanation),
            "outcome_alignments": alignments,
        }

    def metric(self, ms: MetricScore) -> JSON:
        m = ms.metric
        item: JSON = {"id": m.id, "name": m.name, "explanation": ms.explanation, "function_name": m.slug}
        if m.is_binary:
            legacy_type = m.type if m.type != "binary" else "binary_qualitative"
            if self.style in ("legacy", "both"):
                item.update(type=legacy_type, score=ms.score, score_normalized=1 if ms.passed else 0)
            if self.style in ("new", "both"):
                item.update(eval_type="binary", passed=ms.passed)
                item.setdefault("type", "binary")
        else:
            item["type"] = m.type
            if self.style != "legacy":
                item["eval_type"] = m.type
            if m.type == "enum":
                item.update(enum=ms.label, value=ms.label)
            else:
                item["score"] = ms.score
            if m.type == "numeric":
                item.update(value=ms.score, extra={"percentiles": {"p50": ms.score}})
        return item

    def rubric(self, ms: MetricScore) -> JSON:
        m = ms.metric
        return {
            "metric_id": m.id,
            "metric_name": m.name,
            "value": ms.score,
            "explanation": ms.explanation,
            "passed": ms.passed,
            "conditions": [{"operator": ">=", "value": 5}],
            "expected_conditions": "score >= 5",
        }

    # -- results ---------------------------------------------------------------------------------------------

    def result_name(self, result: ResultRecord) -> str:
        return result.spec.name or f"Result #{result.id}"

    def _common(self, result: ResultRecord, states: list[RunState]) -> JSON:
        agent = self.state.world.agents[result.spec.agent_id]
        events = [result.created_at] + ([] if result.cancelled_at is None else [result.cancelled_at])
        for s in states:
            tl = s.record.timeline
            events += [t for t in (tl.queued_at, tl.started_at, tl.eval_at, tl.finished_at) if t <= s.at]
        return {
            "id": result.id,
            "name": self.result_name(result),
            "agent": agent.id,
            "status": self.state.result_status(states),
            "success_rate": aggregates.rate(sum(s.success for s in states), len(states)),
            "run_as_text": result.spec.run_as_text,
            "is_cronjob": False,
            "created_at": self.iso(result.created_at),
            "updated_at": self.iso(max(events)),
        }

    def summary(self, result: ResultRecord) -> JSON:
        """The start-run response (§A3.5)."""
        states = self.state.run_states(result)
        return {**self._common(result, states), "runs": [self.run_summary(s) for s in states]}

    def _counts(self, result: ResultRecord, states: list[RunState]) -> JSON:
        agent = self.state.world.agents[result.spec.agent_id]
        scenarios = {
            s.record.plan.scenario_id: self.state.scenario(s.record.plan.scenario_id) for s in states
        }
        evaluated = [s for s in states if s.evaluated]
        prompts = {sid: bool(sc and sc.expected_outcome_prompt) for sid, sc in scenarios.items()}
        return {
            "agent_name": agent.name,
            "agent_version": None,
            "met_expected_outcome_count": sum(s.record.outcome.expected_score == 100 for s in evaluated),
            "total_expected_outcome_count": sum(prompts[s.record.plan.scenario_id] for s in states),
            "total_runs_count": len(states),
            "completed_runs_count": sum(s.terminal for s in states),
            "success_runs_count": sum(s.success for s in states),
            "failed_runs_count": sum(s.terminal and not s.success for s in states),
            "scenarios": [
                {"id": sid, "name": sc.name if sc else "Scenario Deleted"} for sid, sc in scenarios.items()
            ],
            "run_type": result.spec.run_type,
        }

    def list_item(self, result: ResultRecord) -> JSON:
        """The ``Result`` serializer of the list endpoint, email start and rerun (§A8)."""
        states = self.state.run_states(result)
        agent = self.state.world.agents[result.spec.agent_id]
        return {
            **self._common(result, states),
            **self._counts(result, states),
            "agent_inbound": agent.inbound_number is not None,
            "runs": [self.run_summary(s) for s in states],
        }

    def detail(self, result: ResultRecord) -> JSON:
        """``GET results/{id}/`` (§A4)."""
        states = self.state.run_states(result)
        evaluated = [s for s in states if s.evaluated]
        metrics = {m.metric.id: m.metric for s in evaluated for m in s.record.outcome.metrics}
        return {
            **self._common(result, states),
            **self._counts(result, states),
            "runs": {str(s.record.id): self.run(s) for s in states},
            "overall_evaluation": aggregates.overall(states) if evaluated else None,
            "total_duration": mm_ss(sum(s.record.outcome.talk_time for s in evaluated)),
            "connected_runs": [s.record.id for s in evaluated],
            "not_connected_runs": [s.record.id for s in states if s.terminal and not s.evaluated],
            "failed_infrastructure_runs": [s.record.id for s in states if s.status in ("failed", "timeout")],
            "failed_workflow_runs": [s.record.id for s in evaluated if s.record.outcome.expected_score == 0],
            "successful_calls": [s.record.id for s in states if s.success],
            "critical_categories": [],
            "metrics": [
                {"id": m.id, "name": m.name, "type": m.type, "eval_type": "binary" if m.is_binary else m.type}
                for m in metrics.values()
            ],
            "runs_by_tags": aggregates.runs_by_tags(self.state, states),
            "latency_data": aggregates.latency(evaluated),
            "failed_reasons": aggregates.failed_reasons(states),
            "ai_summary": None,
            "ai_summary_status": None,
            "next_steps": None,
            "path_coverage": None,
            "performance_metrics": None,
            "domain": None,
            "domain_logo": None,
            "run_settings": dict(result.spec.settings),
        }

    # -- test sets -------------------------------------------------------------------------------------------

    def test_set(self, ts: TestSet) -> JSON:
        run = self.state.runs[ts.run_id]
        rs = self.state.run_state(run)
        full = self.run(rs)
        scores = {ms.metric.id: ms for ms in run.outcome.metrics} if rs.evaluated else {}
        reviews = []
        for i, (mid, feedback, expected) in enumerate(ts.reviews):
            m = self.state.world.metrics[mid]
            reviews.append(
                {
                    "id": ts.id * 100 + i,
                    "metric": mid,
                    "metric_name": m.name,
                    "metric_enum_values": list(m.enum_values) or None,
                    "eval_type": "binary" if m.is_binary else m.type,
                    "expected_value": expected,
                    "explanation": [scores[mid].explanation] if mid in scores else [],
                    "feedback": feedback,
                    "metric_function_name": m.slug,
                    "metric_vocera_defined_metric_code": "",
                }
            )
        return {
            "id": ts.id,
            "agent": full["agent"],
            "name": ts.name,
            "transcript": full["transcript"],
            "transcript_object": full["transcript_object"],
            "voice_recording_url": full["voice_recording_url"],
            "call_end_reason": full["metadata"].get("ended_reason", ""),
            "duration": full["duration"],
            "source_model": "Run",
            "source_id": str(ts.run_id),
            "metric_reviews": reviews,
            "created_at": self.iso(ts.created_at),
            "updated_at": self.iso(ts.created_at),
        }
