"""The unified `Reasoning` for vendors whose only knob is an effort level (OpenAI, Mistral,
OpenAI-protocol workers), and the bands every adapter uses between budgets and levels."""

from __future__ import annotations

from msgspec import UNSET

from schemas.chat import Reasoning, ReasoningEffort

LOW_BUDGET = 2048
MEDIUM_BUDGET = 8192
"""Thinking budgets (tokens) at or under which a budget counts as low, then medium; above, high.
The bands of LiteLLM and the Vercel AI SDK's mappings, so the same request means the same
thing through them and through us."""


def effort_for_budget(budget: int) -> ReasoningEffort:
    if budget <= 0:
        return "none"
    if budget <= LOW_BUDGET:
        return "low"
    return "medium" if budget <= MEDIUM_BUDGET else "high"


def _warn(warnings: list[str], sentence: str) -> None:
    if sentence not in warnings:
        warnings.append(sentence)


def to_reasoning_effort(reasoning: Reasoning, vendor: str, warnings: list[str]) -> ReasoningEffort | None:
    """The `reasoning_effort` to send (None: send none). Disabled thinking is `none`; a
    budget becomes the level of its band, said in a warning; thinking without a level or a
    budget leaves the model's default; a request for the thinking's text is reported, since
    these vendors' chat APIs return none (Mistral and the workers return it unasked)."""
    if reasoning.summary not in (UNSET, "none") and vendor == "openai":
        _warn(warnings, f"reasoning summaries are not returned by {vendor} chat completions")
    if reasoning.enabled is False:
        return "none"
    if reasoning.effort is not UNSET:
        if reasoning.budget_tokens is not UNSET:
            _warn(warnings, f"reasoning budget_tokens is not supported by {vendor}; the effort was sent")
        return reasoning.effort
    if reasoning.budget_tokens is not UNSET:
        effort = effort_for_budget(reasoning.budget_tokens)
        _warn(
            warnings,
            f"reasoning budget_tokens is not supported by {vendor}; sent as reasoning_effort {effort!r}",
        )
        return effort
    return None
