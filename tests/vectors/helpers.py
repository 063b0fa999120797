"""Test helpers for the knowledge index: tiny real PDFs, uploads, an ingest shortcut."""

from __future__ import annotations

import io

from workspaces import knowledge


def make_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one text line per page (Helvetica), readable by pypdf."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    font_obj = 3 + 2 * len(pages)
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    for i, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_obj} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{n} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def upload(project, data: bytes, name: str = "notes.txt", content_type: str = "", actor=None):
    file, _created = knowledge.project_file_upload(
        project=project, name=name, stream=io.BytesIO(data), content_type=content_type, actor=actor
    )
    return file


def ingest(project, data: bytes, name: str = "notes.txt", content_type: str = "", actor=None):
    from vectors import services

    file = upload(project, data, name, content_type, actor)
    return services.file_ingest(file_id=file.pk)


WORDS = (
    "river mountain forest ocean desert glacier canyon meadow volcano island harbor lagoon "
    "prairie tundra savanna marsh delta plateau valley cliff reef bay fjord steppe dune"
).split()


def prose(seed: int, n: int = 400) -> str:
    import random

    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n))
