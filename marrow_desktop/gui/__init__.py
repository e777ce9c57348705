"""The desktop viewer (Qt/PySide6): application, main window, one widget per file, workers.

Nothing in marrow_desktop.core or marrow_desktop.inference imports this package; it binds the
core's results to views and runs the core's work in worker threads.
"""
