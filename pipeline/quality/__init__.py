"""Data quality beyond the contract's row rules: validation rules across feeds and outliers, both
catalogue data (rules.yaml), reported as warnings on rows that stay accepted.

    rules = load_rules(catalogue)                 # validates rules.yaml
    compute_warnings(con, catalogue, rules)       # writes table row_warnings (and the follow-up list)
"""
from pipeline.quality.findings import compute_warnings, warnings_frame
from pipeline.quality.rules import RuleCatalogue, cached_rules, load_rules, rules_path

__all__ = ["RuleCatalogue", "cached_rules", "compute_warnings", "load_rules", "rules_path", "warnings_frame"]
