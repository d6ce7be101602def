"""The variable and constraint-family tables of ``models/channel_design.md``, generated
from the family registry (run ``python -m channel_opt.model.design_doc`` after changing a
record; a test fails while the file is stale).
"""

from __future__ import annotations

from .records import RowFamily
from .registry import ROWS, VARIABLES

START, END = "<!-- families:start -->", "<!-- families:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _switch(s: str | None) -> str:
    return "always" if s is None else f"`{s}`"


def families_markdown() -> str:
    """The variable and constraint-family tables of ``models/channel_design.md``."""
    lines = [START, "", "### Variables", "",
             "| name | index | type | stage | coupling | switch | meaning | test |",
             "|---|---|---|---|---|---|---|---|"]
    for v in VARIABLES:
        lines.append(f"| `{v.name}` | `{_cell(v.index)}` | `{_cell(v.kind)}` | {v.stage} | "
                     f"{v.coupling} | {_switch(v.switch)} | {_cell(v.meaning)} | "
                     f"{_test(v.test)} |")
    lines += ["", "### Constraint families", "",
              "| name | switch | math | role | coupling | unit | planner's words | function "
              "| test |", "|---|---|---|---|---|---|---|---|---|"]
    for r in ROWS:
        lines.append(f"| `{r.name}{_cell(r.index)}` | {_switch(r.switch)} | {_cell(r.math)} | "
                     f"{r.role} | {r.coupling} | {r.unit or '—'} | {r.words} | "
                     f"`{_function(r)}` | {_test(r.test)} |")
    lines += ["", END]
    return "\n".join(lines)


def _function(rec: RowFamily) -> str:
    """The builder as ``theme.define_x`` (its module in the families package)."""
    return f"{rec.builder.__module__.rsplit('.', 1)[-1]}.{rec.builder.__name__}"


def _test(test: str) -> str:
    return "—" if test == "—" else f"`{test.split('::')[-1]}`"


def update_design_doc(path: str = "models/channel_design.md") -> bool:
    """Rewrite the generated family tables of the model document; True if it changed."""
    from ..scenario.docs import rewrite_generated_block

    return rewrite_generated_block(path, START, END, families_markdown())


if __name__ == "__main__":  # python -m channel_opt.model.design_doc
    print("models/channel_design.md updated" if update_design_doc()
          else "models/channel_design.md already current")
