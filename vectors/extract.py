"""Text extraction (txt, Markdown, HTML, PDF) and overlapping chunking that keeps pages.

`EXTRACTION_VERSION` names the behaviour of this module: bump it when extraction or
chunking changes, and every file is re-ingested (its old chunks replaced atomically).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from django.conf import settings

EXTRACTION_VERSION = 1

CHUNK_CHARS = 1200
CHUNK_OVERLAP = 200


def extraction_version() -> int:
    return int(getattr(settings, "EXTRACTION_VERSION", EXTRACTION_VERSION))


class ExtractionError(Exception):
    """The file cannot be read; the message is one sentence shown to the user."""


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    text: str


@dataclass(frozen=True)
class TextChunk:
    ordinal: int
    text: str
    page_start: int
    page_end: int
    char_start: int
    char_end: int


TEXT_TYPES = {"text/plain", "text/markdown", "text/x-markdown"}
HTML_TYPES = {"text/html", "application/xhtml+xml"}
PDF_TYPES = {"application/pdf"}


def kind_of(name: str, content_type: str) -> str | None:
    lower = name.lower()
    ctype = (content_type or "").split(";")[0].strip().lower()
    if lower.endswith(".pdf") or ctype in PDF_TYPES:
        return "pdf"
    if lower.endswith((".html", ".htm", ".xhtml")) or ctype in HTML_TYPES:
        return "html"
    if lower.endswith((".txt", ".md", ".markdown", ".text", ".rst")) or ctype in TEXT_TYPES:
        return "text"
    return None


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ExtractionError("The file looks binary, not text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExtractionError("The file is not valid UTF-8 text.")


class _HTMLText(HTMLParser):
    SKIP = {"script", "style", "noscript", "template"}
    BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "pre"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def extract_pages(data: bytes, *, name: str, content_type: str) -> list[Page]:
    """The file's text, page by page (a text or HTML file is one page)."""
    kind = kind_of(name, content_type)
    if kind is None:
        raise ExtractionError(
            f"Files of type {content_type or 'unknown'} ({name}) cannot be indexed; "
            "upload text, Markdown, HTML or PDF."
        )
    if kind == "text":
        return [Page(1, _decode(data))]
    if kind == "html":
        parser = _HTMLText()
        parser.feed(_decode(data))
        parser.close()
        text = re.sub(r"[ \t]+", " ", "".join(parser.parts))
        return [Page(1, re.sub(r"\n\s*\n+", "\n\n", text).strip())]
    return _pdf_pages(data)


def _pdf_pages(data: bytes) -> list[Page]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ExtractionError("The PDF is encrypted.")
        return [Page(i + 1, page.extract_text() or "") for i, page in enumerate(reader.pages)]
    except ExtractionError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError) as exc:
        raise ExtractionError(f"The PDF cannot be read ({type(exc).__name__}).")


def chunk_pages(
    pages: list[Page], *, size: int = CHUNK_CHARS, overlap: int = CHUNK_OVERLAP
) -> list[TextChunk]:
    """Split the concatenated pages into windows of ~`size` characters overlapping by
    `overlap`, cut at whitespace where possible; each chunk knows its first and last page."""
    if overlap >= size:
        raise ValueError("overlap must be smaller than size")
    text_parts, starts = [], []
    offset = 0
    for page in pages:
        starts.append((offset, page.number))
        text_parts.append(page.text)
        offset += len(page.text) + 1
    text = "\n".join(text_parts)

    def page_at(pos: int) -> int:
        number = starts[0][1] if starts else 1
        for start, n in starts:
            if start > pos:
                break
            number = n
        return number

    chunks: list[TextChunk] = []
    pos, n = 0, len(text)
    while pos < n:
        end = min(n, pos + size)
        if end < n:
            cut = text.rfind(" ", pos + size // 2, end)
            cut = max(cut, text.rfind("\n", pos + size // 2, end))
            if cut > pos:
                end = cut
        piece = text[pos:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            body = piece.strip()
            start_at = pos + lead
            chunks.append(
                TextChunk(
                    ordinal=len(chunks),
                    text=body,
                    page_start=page_at(start_at),
                    page_end=page_at(start_at + len(body) - 1),
                    char_start=start_at,
                    char_end=start_at + len(body),
                )
            )
        if end >= n:
            break
        nxt = end - overlap
        space = text.find(" ", nxt, end)
        pos = space + 1 if space != -1 else nxt
        pos = max(pos, (chunks[-1].char_start + 1) if chunks else pos + 1)
    return chunks


# --- code: chunks of lines ------------------------------------------------------------

CODE_CHUNK_LINES = 60
CODE_CHUNK_OVERLAP = 10
CODE_CHUNK_CHARS = 4000  # a window also ends early when its lines grow this long


@dataclass(frozen=True)
class LineChunk:
    ordinal: int
    text: str
    line_start: int  # 1-based, inclusive
    line_end: int
    char_start: int
    char_end: int


def chunk_lines(
    text: str,
    *,
    lines: int = CODE_CHUNK_LINES,
    overlap: int = CODE_CHUNK_OVERLAP,
    max_chars: int = CODE_CHUNK_CHARS,
) -> list[LineChunk]:
    """Windows of up to `lines` lines (or `max_chars` characters) overlapping by `overlap`
    lines; each chunk knows its first and last line number. Blank windows are dropped."""
    if overlap >= lines:
        raise ValueError("overlap must be smaller than lines")
    all_lines = text.splitlines(keepends=True)
    offsets, pos = [], 0
    for line in all_lines:
        offsets.append(pos)
        pos += len(line)
    chunks: list[LineChunk] = []
    start, n = 0, len(all_lines)
    while start < n:
        end, size = start, 0
        while (
            end < n
            and end - start < lines
            and (end == start or size + len(all_lines[end]) <= max_chars)
        ):
            size += len(all_lines[end])
            end += 1
        body = "".join(all_lines[start:end])
        if body.strip():
            chunks.append(
                LineChunk(
                    ordinal=len(chunks),
                    text=body.rstrip("\n")[:max_chars],
                    line_start=start + 1,
                    line_end=end,
                    char_start=offsets[start],
                    char_end=offsets[start] + len(body),
                )
            )
        if end >= n:
            break
        start = max(start + 1, end - overlap)
    return chunks


LANGUAGES = {
    "py": "python", "pyi": "python", "js": "javascript", "mjs": "javascript", "cjs": "javascript",
    "jsx": "javascript", "ts": "typescript", "tsx": "typescript", "go": "go", "rs": "rust",
    "java": "java", "kt": "kotlin", "kts": "kotlin", "scala": "scala", "rb": "ruby", "php": "php",
    "c": "c", "h": "c", "cc": "cpp", "cpp": "cpp", "cxx": "cpp", "hpp": "cpp", "hh": "cpp",
    "cs": "csharp", "swift": "swift", "m": "objective-c", "sh": "shell", "bash": "shell",
    "zsh": "shell", "ps1": "powershell", "sql": "sql", "html": "html", "htm": "html",
    "css": "css", "scss": "scss", "less": "less", "vue": "vue", "svelte": "svelte",
    "md": "markdown", "markdown": "markdown", "rst": "restructuredtext", "txt": "text",
    "json": "json", "yml": "yaml", "yaml": "yaml", "toml": "toml", "ini": "ini", "cfg": "ini",
    "xml": "xml", "tex": "latex", "r": "r", "lua": "lua", "pl": "perl", "ex": "elixir",
    "exs": "elixir", "erl": "erlang", "hs": "haskell", "ml": "ocaml", "clj": "clojure",
    "dart": "dart", "jl": "julia", "tf": "terraform", "proto": "protobuf", "graphql": "graphql",
}  # fmt: skip
FILENAME_LANGUAGES = {"dockerfile": "dockerfile", "makefile": "makefile", "gemfile": "ruby"}
BINARY_EXTENSIONS = frozenset(
    "png jpg jpeg gif bmp ico webp tiff psd pdf zip gz tgz bz2 xz 7z rar jar war whl egg "
    "so dylib dll exe bin o a class pyc pyo woff woff2 ttf otf eot mp3 mp4 m4a wav ogg flac "
    "mov avi mkv webm sqlite db epub docx xlsx pptx odt".split()
)


def language_of(path: str) -> str:
    """The language of a file, from its extension (or its name: Dockerfile, Makefile)."""
    name = path.rsplit("/", 1)[-1].lower()
    if name in FILENAME_LANGUAGES:
        return FILENAME_LANGUAGES[name]
    ext = name.rsplit(".", 1)[-1] if "." in name.lstrip(".") else ""
    return LANGUAGES.get(ext, ext or "text")


def binary_extension(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return "." in name and name.rsplit(".", 1)[-1] in BINARY_EXTENSIONS
