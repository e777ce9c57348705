"""Sub-commands of `marrow`: each module has add_parser(subparsers) and run(args).

Modules here import only argparse-level code at import time, so `marrow --help` stays instant;
numpy-heavy, torch and Qt imports happen inside run().
"""

from marrow_desktop.commands import (
    adapt,
    classify,
    data,
    eda,
    evaluate,
    export,
    gui,
    keys,
    models,
    qc,
    report,
    selftest,
    train,
    trainset,
    verify,
)

COMMANDS = (classify, qc, report, verify, trainset, adapt, models, keys, gui, train, evaluate,
            export, eda, data, selftest)
