"""About: version, bundle flavour, device, the model card and the data credit."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop.gui import theme

DATA_CREDIT = (
    "The model was trained on, and the sample images come from, the bone-marrow cytology "
    "collection of Matek et al. (2021), The Cancer Imaging Archive, "
    "https://doi.org/10.7937/TCIA.AXH3-T579, licensed CC BY 4.0. It was also trained on the "
    "peripheral blood cell images of Acevedo et al. (2020), Data in Brief 30, "
    "https://doi.org/10.17632/snkd93bnjr.1, licensed CC BY 4.0."
)


@dataclass(frozen=True)
class AboutInfo:
    """Everything the dialog shows, gathered by the caller (the dialog reads no files)."""

    version: str
    flavour: str  # 'source', 'cpu' or 'gpu'
    model_card: str  # Markdown
    credits: str  # Markdown
    device: str = ""
    model_name: str = ""


class AboutDialog(QDialog):
    def __init__(self, info: AboutInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Marrow Desktop")
        self.resize(640, 560)
        logo = QLabel()
        logo.setPixmap(theme.icon("marrow").pixmap(56, 56))
        flavour = {"source": "running from source", "cpu": "CPU build",
                   "gpu": "GPU build (PyTorch)"}.get(info.flavour, info.flavour)
        title = QLabel(
            f"<div style='font-size:18px;font-weight:700'>Marrow Desktop {info.version}</div>"
            f"<div style='color:#64748b'>Offline bone-marrow cell classification · {flavour}"
            + (f"<br>Model: {info.model_name} on {info.device}" if info.model_name else "")
            + "</div>")
        title.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(logo)
        head.addWidget(title, 1)

        self.tabs = QTabWidget()
        self.about = self._browser(
            f"**Marrow Desktop** {info.version} ({flavour}) classifies single-cell bone-marrow "
            "images with a ReXNet-150 network, shows Grad-CAM heat maps and class "
            "probabilities, checks image quality, and keeps every result and review in a local "
            "results store. It works fully offline: nothing leaves this computer.\n\n"
            f"**Data credit.** {DATA_CREDIT}\n\n"
            "**Not a medical device.** Predictions support, and never replace, review by a "
            "qualified person.")
        self.model_card = self._browser(info.model_card)
        self.credits = self._browser(info.credits or DATA_CREDIT)
        self.tabs.addTab(self.about, "About")
        self.tabs.addTab(self.model_card, "Model card")
        self.tabs.addTab(self.credits, "Data credit")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)

    @staticmethod
    def _browser(markdown: str) -> QTextBrowser:
        browser = QTextBrowser()
        browser.setOpenExternalLinks(False)  # offline: links are shown, not followed
        browser.setMarkdown(markdown)
        return browser
