"""The constraint families of the channel-design MIP, one builder each, by theme.

Every builder adds its variables and rows to an :class:`~channel_opt.model.linear.ArrayModel`
from index arrays (never by scanning tables per row); names match
``models/channel_design.md``. The core families are always built; the others when the
scenario switches them on. Each theme module declares, next to its builders:

* ``VARIABLES`` / ``ROWS``: one :class:`~channel_opt.model.records.VarFamily` /
  :class:`~channel_opt.model.records.RowFamily` record per variable block and per
  constraint family it builds (name, switch, builder, role, coupling, stage, the
  planner's words, unit, the hand test);
* ``BUILD_STEPS``: ``(step, builder)`` pairs. The model is built in increasing step
  across all themes, so the step fixes the column and row order (and so the solver's
  path). A builder may only use the blocks of builders with a smaller step (``sales``
  and ``offer`` exist from step 50, ``commission`` from step 100).

:mod:`channel_opt.model.registry` collects the themes below in this order.

Adding a family
---------------
A new family (say a per-(region, channel) capacity) touches ONE theme module plus its
test:

1. write ``define_<name>(b: Build, rule)`` in the theme module (``capacity.py`` for a
   use within a limit; :func:`~channel_opt.model.families.core.sales_by_group` builds
   a sum of sales per group against a limit in one call);
2. add its records to that module's ``ROWS`` (and ``VARIABLES`` if it adds a variable
   block) and ``(step, define_<name>)`` to its ``BUILD_STEPS``, with a step not used
   yet (after the steps of the blocks it reads);
3. a hand-computed test in ``tests/test_model_families.py`` named in the record's
   ``test`` (a test checks that it exists and names the block);
4. if the family has a new rule switch: the field in
   :class:`channel_opt.scenario.settings.Rules` (the registry refuses an unknown one);
5. regenerate the family tables of ``models/channel_design.md``:
   ``python -m channel_opt.model.design_doc`` (a test fails while they are stale).

Result tables, diagnosis wording and sensitivity read the records (a capacity, budget
or floor row appears in the capacity table and the sensitivity by its role).
"""

from __future__ import annotations

from . import capacity, conflict, core, partners, pricing
from .core import Build, sales_unit_margin
from .partners import partner_income_per_unit
from .pricing import parity_kind_pairs

__all__ = ["Build", "capacity", "conflict", "core", "parity_kind_pairs", "partner_income_per_unit",
           "partners", "pricing", "sales_unit_margin"]
