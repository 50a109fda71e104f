"""The dataset browser: a virtualised thumbnail grid with filters, over numpy sample columns."""

from app.ui.browser.widget import BrowserWidget

__all__ = ["BrowserWidget"]
