"""The plain-text part of an e-mail from a message's sanitized HTML.

Block elements and `<br>` become line breaks, list items get a "- ", a link whose text is not
its address is written `text (address)`, and entities are decoded. `html.parser` reads its
input once (no regular expression of ours), so the cost is linear in the message.
"""

from __future__ import annotations

from html.parser import HTMLParser

_BLOCKS = frozenset(
    {
        "p", "div", "blockquote", "center", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "ol", "ul", "pre", "table", "tr",
    }
)  # fmt: skip
_SKIPPED = frozenset({"script", "style"})


class _TextWriter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._href: str | None = None
        self._link_text: list[str] = []
        self._skip = 0

    def _write(self, text: str) -> None:
        if self._href is not None:
            self._link_text.append(text)
        else:
            self.parts.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag == "br":
            self._write("\n")
        elif tag == "li":
            self._write("\n- ")
        elif tag in ("td", "th"):
            self._write(" ")
        elif tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._link_text = []
        elif tag in _BLOCKS:
            self._write("\n\n" if tag == "p" else "\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in _SKIPPED:
            self._skip -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag == "a" and self._href is not None:
            href, text = self._href, "".join(self._link_text).strip()
            self._href = None
            if href and text and text != href:
                self._write(f"{text} ({href})")
            else:
                self._write(text or href)
        elif tag in _BLOCKS:
            self._write("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        # Source line breaks are white space in HTML; `html_to_text` collapses the runs.
        self._write(data.replace("\r", " ").replace("\n", " "))


def html_to_text(html: str) -> str:
    """Readable plain text of `html`: white space runs as one space, at most one empty line in a row."""
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    lines = [" ".join(line.split()) for line in "".join(writer.parts).split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)
