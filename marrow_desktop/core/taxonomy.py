"""Cell class codes and their full names (bone-marrow collection of Matek et al., 2021)."""

from __future__ import annotations

#: All 21 classes of the bone-marrow cytology collection, code -> full name.
BONE_MARROW_CLASSES: dict[str, str] = {
    "ABE": "Abnormal eosinophil",
    "ART": "Artefact",
    "BAS": "Basophil",
    "BLA": "Blast",
    "EBO": "Erythroblast",
    "EOS": "Eosinophil",
    "FGC": "Faggot cell",
    "HAC": "Hairy cell",
    "KSC": "Smudge cell",
    "LYI": "Immature lymphocyte",
    "LYT": "Lymphocyte",
    "MMZ": "Metamyelocyte",
    "MON": "Monocyte",
    "MYB": "Myelocyte",
    "NGB": "Band neutrophil",
    "NGS": "Segmented neutrophil",
    "NIF": "Not identifiable",
    "OTH": "Other cell",
    "PEB": "Proerythroblast",
    "PLM": "Plasma cell",
    "PMO": "Promyelocyte",
}

#: The seven cell classes of the matek7 set, in the first model's (v1's) output order; hand-made
#: test cases use them. A model's own classes are in its metadata (the shipped v2 adds ART).
SHIPPED_CLASSES: tuple[str, ...] = ("BLA", "EOS", "LYT", "MON", "NGS", "NIF", "PMO")


def full_name(code: str) -> str:
    """Full name of a class code; unknown codes (a user's own folders) are returned readable."""
    return BONE_MARROW_CLASSES.get(code.upper(), code.replace("_", " ").strip() or code)
