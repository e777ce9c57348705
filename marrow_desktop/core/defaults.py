"""Default thresholds, defined once (no heavy imports: the CLI's --help shows them).

Each is used by core (quality verdicts, the review rule), the CLI and the GUI's settings.
"""

#: Laplacian variance (grey image at 256 px) below which an image is blurry.
BLUR_THRESHOLD = 8.0
#: A classified cell needs review below this calibrated top-class probability...
MIN_CONFIDENCE = 0.7
#: ...or below this margin between its two most likely classes...
MIN_MARGIN = 0.2
#: ...or when its blast probability reaches this (every predicted blast is queued too)...
BLAST_PROBABILITY = 0.3
#: ...and this random share of the remaining cells is drawn for a person to verify.
VERIFICATION_SHARE = 0.05
#: Below this many counted cells a blast percentage is shown without an alarm (its interval is
#: too wide to judge against the 5% and 20% thresholds).
MIN_BLAST_COUNT = 50
#: WHO: >= 20% marrow blasts is the threshold for acute myeloid leukaemia.
AML_BLASTS = 0.20
#: >= 5% marrow blasts is above the normal range.
ELEVATED_BLASTS = 0.05
