"""Approval, publication and reproducibility (contract section 5): the evaluators' approval log,
each programme-quarter's state, the published state and the working state marked against it,
the audit trail per value, and the catalogue's history (docs/approval.md).

    log.py        approve, reopen, states, the log
    history.py    the catalogue's versions with their validity
    published.py  what is published (now or as of a log entry), the working marks, the audit trail
    outputs.py    the files of a publication
    journal.py    each log entry kept in the archive, put back by `teilhabe rebuild`
"""
from pipeline.approval.history import record_catalogue, restore_catalogue, versions
from pipeline.approval.log import (APPROVED, CHANGED, OPEN, REOPENED, ApprovalError, approve, ensure_tables,
                                   has_approvals, log, read_states, reopen, states, write_states)
from pipeline.approval.journal import keeper, restore
from pipeline.approval.outputs import (AUDIT_FILE, DATENSTAND_FILE, PUBLISHED_DIR, write_audit, write_publication,
                                       write_published)
from pipeline.approval.published import (MARK, Publication, entry_for, publication, working_rows)

__all__ = ["APPROVED", "AUDIT_FILE", "CHANGED", "DATENSTAND_FILE", "MARK", "OPEN", "PUBLISHED_DIR", "REOPENED",
           "ApprovalError", "Publication", "approve", "ensure_tables", "entry_for", "has_approvals", "keeper",
           "log", "publication", "read_states", "record_catalogue", "reopen", "restore", "restore_catalogue",
           "states", "versions", "working_rows", "write_audit", "write_publication", "write_published",
           "write_states"]
