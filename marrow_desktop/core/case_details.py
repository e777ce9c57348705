"""A case's details: who and what the smear is from. Stored with the case as JSON (the store's
`cases.details`, its hash in the audit trail), printed on the report and in cells.csv; never in
training-set manifests, adapted-model cards or log files."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

#: (attribute, label, multi-line)
FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("patient_id", "Patient / sample identifier", False),
    ("accession", "Accession number", False),
    ("specimen", "Specimen", False),
    ("clinician", "Requesting clinician", False),
    ("comment", "Comment", True),
)
MAX_LENGTH = 2000


@dataclass(frozen=True)
class CaseDetails:
    patient_id: str = ""
    accession: str = ""
    specimen: str = ""
    clinician: str = ""
    comment: str = ""

    @property
    def empty(self) -> bool:
        return not any(asdict(self).values())

    def to_json(self) -> str:
        """Canonical JSON (what the trail hashes)."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True,
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CaseDetails:
        """Details from the store; unknown keys are ignored, bad JSON gives empty details."""
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        names = {f.name for f in fields(cls)}
        return cls(**{k: str(v)[:MAX_LENGTH] for k, v in data.items() if k in names})

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) of the fields that are filled in, in display order."""
        return [(label, getattr(self, name)) for name, label, _ in FIELDS
                if getattr(self, name)]
