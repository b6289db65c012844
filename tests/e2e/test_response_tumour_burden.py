"""The Response page's tumour-burden section in a browser: the waterfall (one bar per patient, the RECIST lines)
and the spider plot coloured by the page's grouping, drawn and screenshotted."""
from __future__ import annotations

from . import ui


def _index(page, part: str) -> int:
    titles = [ui.figure_title(page, i) for i in range(page.locator(ui.PLOTLY).count())]
    found = [i for i, t in enumerate(titles) if part in t]
    assert found, titles
    return found[0]


def test_waterfall_and_spider_are_drawn_with_their_legends(open_at):
    page = open_at("/Response?resp_by=disease")
    waterfall = ui.eventually(lambda: _index(page, "Best change in target lesions"))
    spider = ui.eventually(lambda: _index(page, "Change in target lesions over time"))
    bars = [t for t in ui.plotly_traces(page, waterfall) if t["type"] == "bar"]
    assert sum(len(t["x"]) for t in bars) > 20
    assert {"PD", "PR"} <= set(ui.legend_labels(page, waterfall))
    assert {"Melanoma", "RCC"} <= set(ui.legend_labels(page, spider))
    text = ui.main_text(page)
    assert "Tumour change:" in text and "RECIST 1.1 thresholds" in text
    page.get_by_role("heading", name="Tumour burden").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    ui.shot(page, "screens/response_tumour_burden")
