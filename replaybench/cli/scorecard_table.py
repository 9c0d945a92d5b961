"""The scorecard in the terminal: one table per platform, a line of the rule under each."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from replaybench.analysis.scorecard import GRADE_BLOCKER, GRADE_PARTIAL, GRADE_PASS, Card

_STYLE = {GRADE_PASS: "green", GRADE_PARTIAL: "yellow", GRADE_BLOCKER: "bold red"}


def print_scorecards(cards: list[Card], console: Console | None = None) -> None:
    console = console or Console()
    for card in cards:
        table = Table(title=f"{card.platform}: {'NO-GO' if card.blocked else 'no blocker'}",
                      show_lines=True, title_justify="left")
        table.add_column("category")
        table.add_column("status")
        table.add_column("evidence")
        table.add_column("rule", style="dim")
        for v in card.grades:
            table.add_row(v.category, f"[{_STYLE.get(v.status, 'dim')}]{v.status}[/]",
                          "\n".join(v.evidence), v.rule)
        console.print(table)
