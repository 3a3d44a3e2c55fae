"""Impact evaluation: survey outcomes before and after, against comparison districts.

Two kinds of rows, one table (`impact_estimates`, `exports/impact.csv`; built in `table`):

``pre_post``
    Per programme, district (programme and comparison districts, plus the pools ``ALL`` and
    ``ALL_COMPARISON``), respondent group (plus ``ALL``) and survey item: the mean per wave with
    a 95 % t-interval and the change baseline → follow-up with a Welch 95 % interval and p-value
    (`welch`). A pre/post change is a *change*, not an impact.

``did``
    Difference-in-differences per programme, item and group: programme districts against the
    programme's comparison districts, baseline → follow-up. Pooled over the programme districts
    (``district_ags = ALL``) and each programme district against the comparison pool. District
    fixed effects; uncertainty by the restricted wild cluster bootstrap with Webb weights, the
    interval by inverting its test (`estimator`, whose docstring gives the reasons and limits).

Limits and multiplicity (issue 19): a row whose inference rests on fewer than ``MIN_DISTRICTS``
(4) districts carries no p-value and no interval, and says so; a pool's pre/post change is the
change within its districts with a cluster-robust interval (`design`); every row has its
minimum detectable effect at 80 % power and its effect in baseline standard deviations
(`design`); the pooled DiD of a programme's declared primary outcomes is judged alone, every
other row after Holm's correction within its programme and method, and only then is it
``established`` (`multiplicity`).

Honesty rules (issue 6): a row with fewer than ``indicative_below`` (30) responses in any cell, or
with a single programme or comparison district, is ``indicative``; a row with fewer than
``min_cell`` (5) persons in any cell is ``suppressed``, and secondary suppression withholds what
would let a small cell be derived by subtraction (`disclosure`). Only the survey's score items are
ever estimated: output counts (events, newsletters, …) never get an "impact" (`survey.survey_items`,
checked in `estimate_impact`). The notes and the site's plain-language sentences: `readings`.

Robustness rows (`robustness`): per item the DiD of the share answering 4–5 (``did_top_box``),
and for the primary outcome the pooled DiD leaving out one district at a time
(``did_leave_one_out``); checks, judged in no family.

Event study (`event_rows`, engine `event_study`; issue 19): for a programme whose catalogue lists
two or more survey waves before its start, per item ``event_study`` rows (each wave against the
last pre-wave), a ``placebo`` row and the joint ``pre_trend`` test; a pre-trend that is not flat
marks the item's DiD rows indicative. Numbered waves map onto the two-wave rows as
Programme.wave_phase says (`baseline` = last pre-wave, `follow_up` = last wave).

Modules: survey (items, groups, responses from the warehouse, cell aggregates) → estimator (DiD)
and welch (pre/post) → design (pooled changes, MDE) → disclosure (small cells) → multiplicity
(families, Holm) → robustness (checks) → readings (words) → table (rows, table, export).
"""
from pipeline.impact.design import MIN_DISTRICTS, did_mde, pooled_change
from pipeline.impact.disclosure import INDICATIVE_BELOW, MIN_CELL
from pipeline.impact.estimator import ALPHA, NOT_ESTIMABLE, WEBB, DidResult, did_wild_bootstrap, webb_weights
from pipeline.impact.multiplicity import EXPLORATORY, PRIMARY, holm
from pipeline.impact.readings import GROUP_LABEL, ITEM_LABEL, NOTES, SCOPE_LABEL, impact_reading, p_label
from pipeline.impact.survey import (ALL, ALL_COMPARISON, POOL, POOL_NAME, WAVES, load_responses, survey_groups,
                                    survey_items)
from pipeline.impact.table import (COLUMNS, COUNTS, EXPORT_NAME, METHODS, NUMBERS, TABLE, estimate_impact,
                                   sort_impact, write_impact_export, write_impact_table)
from pipeline.impact.welch import welch_change

__all__ = [
    "ALL", "ALL_COMPARISON", "ALPHA", "COLUMNS", "COUNTS", "EXPLORATORY", "EXPORT_NAME", "GROUP_LABEL",
    "INDICATIVE_BELOW", "ITEM_LABEL", "METHODS", "MIN_CELL", "MIN_DISTRICTS", "NOTES", "NOT_ESTIMABLE", "NUMBERS",
    "POOL", "POOL_NAME", "PRIMARY", "SCOPE_LABEL", "TABLE", "WAVES", "WEBB", "DidResult", "did_mde",
    "did_wild_bootstrap", "estimate_impact", "holm", "impact_reading", "load_responses", "p_label", "pooled_change",
    "sort_impact", "survey_groups", "survey_items", "webb_weights", "welch_change", "write_impact_export",
    "write_impact_table",
]
