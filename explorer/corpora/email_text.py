"""E-mail to text: the subject and visible body of a raw RFC-822 message (used to build the sample).

The shipped sample (``sample_data/build_sample.py``) is built with :func:`email_to_text`; it lives
in the library so that it is tested with it. No runtime path of the library needs it.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import re
from html.parser import HTMLParser

#: Maximum length of a sample text, in characters (cut at a word boundary, then " …").
MAX_CHARS = 2000


_BLOCK_TAGS = {
    "address", "article", "blockquote", "br", "center", "dd", "div", "dl", "dt", "footer", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table",
    "td", "th", "tr", "ul",
}
_SKIP_TAGS = {"script", "style"}


class _HTMLText(HTMLParser):
    """Collects the visible text of an HTML document (entities unescaped, script/style dropped)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._title = False  # <title> text is editor boilerplate ("New Page 1"), not content

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "title":
            self._title = True
        elif tag == "body":
            self._title = False
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag, attrs):
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in ("title", "head"):
            self._title = False
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip and not self._title:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment: tags stripped, ``<script>``/``<style>``/``<title>`` dropped,
    entities unescaped, block elements on their own lines (whitespace not yet collapsed)."""
    parser = _HTMLText()
    try:
        parser.feed(html)
        parser.close()
    except AssertionError:  # very old html.parser versions on malformed markup
        import html as html_mod

        return html_mod.unescape(re.sub(r"<[^>]*>", " ", html))
    return "".join(parser.parts)


_LOOKS_HTML = re.compile(r"<\s*(html|body)\b", re.I)
_HTML_TAG = re.compile(r"</?(p|br|div|font|table|tr|td|a|b|i|center|img|span)\b[^>]*>", re.I)


def _looks_like_html(text: str) -> bool:
    return bool(_LOOKS_HTML.search(text[:500])) or len(_HTML_TAG.findall(text)) >= 5


_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_HSPACE = re.compile(r"[^\S\n]+")  # whitespace other than newline
_BLANKS = re.compile(r"\n{3,}")


def normalize_whitespace(text: str) -> str:
    """Collapse runs of spaces/tabs to one space, strip lines, keep at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CTRL.sub(" ", text)
    lines = [_HSPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def truncate(text: str, max_chars: int = MAX_CHARS) -> str:
    """Cut ``text`` to about ``max_chars`` characters at a word boundary, marking the cut with " …"."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space >= max_chars * 0.8:  # a boundary near the end; otherwise one very long "word": hard cut
        cut = cut[:space]
    return cut.rstrip() + " …"


_ENCODED_CTE = {"base64", "quoted-printable", "x-uuencode", "uuencode", "x-uue", "uue"}
_ASCII_NAMES = {"ascii", "us-ascii", "646", "us"}


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode ``data`` with its declared charset; unknown or ASCII-declared: UTF-8, else cp1252."""
    charset = (charset or "").strip().strip('"').lower()
    if charset and charset not in _ASCII_NAMES:
        try:
            return data.decode(charset, errors="replace")
        except (LookupError, UnicodeError, ValueError):  # unknown, or not a text codec ("rot13")
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _part_text(part) -> str:
    """The decoded text of one leaf part (transfer encoding and charset undone)."""
    raw = part.get_payload(decode=False)
    if not isinstance(raw, str):
        return ""
    cte = str(part.get("content-transfer-encoding", "") or "").strip().lower()
    charset = part.get_content_charset()
    if cte in _ENCODED_CTE:
        data = part.get_payload(decode=True)
        return _decode_bytes(data or b"", charset)
    if raw.isascii():
        # 7bit/8bit/absent: ASCII text may still need its charset (iso-2022-jp, utf-7)
        return _decode_bytes(raw.encode("ascii"), charset)
    return raw  # already Unicode: the message was given as text, not bytes


def _header(msg, name: str) -> str:
    """A header's decoded value ('' when absent); never raises on malformed headers."""
    try:
        value = msg.get(name)
        return "" if value is None else str(value)
    except (email.errors.MessageError, ValueError, IndexError, TypeError, AttributeError, LookupError):
        pass
    for key, value in msg.raw_items():  # fallback: decode the raw value by hand
        if key.lower() == name.lower():
            try:
                return str(email.header.make_header(email.header.decode_header(value)))
            except (email.errors.MessageError, ValueError, LookupError, UnicodeError):
                return str(value)
    return ""


def _is_attachment(part) -> bool:
    try:
        return part.get_content_disposition() == "attachment"
    except (email.errors.MessageError, ValueError, IndexError, TypeError, AttributeError):
        return False


def email_body(msg) -> str:
    """Body text of a parsed message: the text/plain parts, else the text/html parts with tags stripped.

    Attachments are skipped; a text/plain part that is really HTML is stripped too.
    """
    plain, html = [], []
    for part in msg.walk():
        if part.is_multipart() or _is_attachment(part):
            continue
        ctype = part.get_content_type().split()[0].rstrip(";")  # "text/plain charset=x" happens
        if ctype == "text/plain":
            plain.append(_part_text(part))
        elif ctype == "text/html":
            html.append(_part_text(part))
    body = normalize_whitespace("\n\n".join(plain))
    if body and _looks_like_html(body):
        body = normalize_whitespace(html_to_text(body))
    if not body and html:
        body = normalize_whitespace(html_to_text("\n".join(html)))
    return body


_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):")
_TRANSPORT = {"return-path", "received", "delivered-to", "message-id", "mime-version", "content-type",
              "content-transfer-encoding", "reply-to", "errors-to", "sender", "precedence"}
_MIME_START = re.compile(r"^--([^\n\"]{1,200}?)[ \t]*\n[ \t]*Content-Type[ \t]*:", re.I | re.M)


def _embedded_message(text: str):
    """A message hidden in the body of a broken one, or ``None``.

    Two breakages occur in real mail: MIME parts in a body whose ``multipart`` header was lost (or
    names another boundary), and a header block that fell into the body (a bad line ended the real
    headers early).
    """
    match = _MIME_START.search(text)
    if match and match.start() <= 300:  # a long preamble is prose quoting MIME, not lost structure
        head = f'Content-Type: multipart/mixed; boundary="{match.group(1)}"\n\n'
        return email.message_from_string(head + text, policy=email.policy.default)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start, skipped = 0, 0
    while start < len(lines) and skipped <= 300:  # look at the blocks near the top only
        if not lines[start].strip():
            start += 1
            continue
        end = start
        while end < len(lines) and lines[end].strip():
            end += 1
        block = lines[start:end]
        headers = [ln for ln in block if _HEADER_LINE.match(ln) or ln[:1] in (" ", "\t")]
        names = {m.group(1).lower() for m in map(_HEADER_LINE.match, block) if m}
        if (len(names) >= 2 and len(headers) >= 0.6 * len(block)
                and any(n in _TRANSPORT or n.startswith("x-") for n in names)):
            rest = "\n".join(lines[end:])
            return email.message_from_string("\n".join(headers) + "\n" + rest,
                                             policy=email.policy.default)
        skipped += sum(len(ln) + 1 for ln in block)
        start = end
    return None


def _subject_and_body(msg, depth: int = 0) -> tuple[str, str]:
    subject = _HSPACE.sub(" ", _CTRL.sub(" ", _header(msg, "subject"))).strip()
    # a "multipart" whose boundary never occurs is left as one text payload: look inside it too
    if depth < 3 and not msg.is_multipart() and msg.get_content_maintype() in ("text", "multipart"):
        inner = _embedded_message(_part_text(msg))
        if inner is not None:
            inner_subject, body = _subject_and_body(inner, depth + 1)
            return subject or inner_subject, body
    return subject, email_body(msg)


def email_to_text(raw: str, max_chars: int = MAX_CHARS) -> str:
    """Subject + blank line + body of a raw RFC-822 email; no other header ever reaches the text.

    Broken messages are repaired where the intent is clear: a header block that fell into the
    body is dropped (its Content-Type still used), MIME parts whose multipart header was lost are
    split again.

    Parameters
    ----------
    raw : str
        The whole message, headers included.
    max_chars : int
        Truncate the result at a word boundary near this length.

    Returns
    -------
    str
        ``"<subject>\\n\\n<body>"`` (either may be empty), whitespace collapsed; ``""`` when both are empty.
    """
    msg = email.message_from_string(raw, policy=email.policy.default)
    subject, body = _subject_and_body(msg)
    text = "\n\n".join(t for t in (subject, body) if t)
    return truncate(text, max_chars)
