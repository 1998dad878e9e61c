"""A tenant's branding (docs/admin.md, "Branding"): its display name, accent
colour, who to ask, and its logo. One set of rules for the admin page, the
CLI and the API.

The logo is an image Ostiary serves itself (never an external asset): PNG,
JPEG or WebP, at most MAX_LOGO_BYTES and MAX_LOGO_PIXELS on each side. SVG
is refused: it can carry script. The file is read structurally, not trusted
by its name or declared type: a PNG keeps only the chunks that draw the
image (text chunks and anything after IEND are dropped), a JPEG only its
image segments, a WebP only its image chunks. It is served with its checked
type, nosniff and a sandboxing CSP, so even bytes that look like HTML are
never run."""

from __future__ import annotations

import hashlib
import re
import struct
import time
import zlib
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update

from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, InvalidInput, NotFound, Problem, Problems
from ostiary.services.base.text_rules import control_character_problem, nfc
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity, record_change
from ostiary.store.tables import tenant_logos, tenants

MAX_NAME = 100
MAX_CONTACT = 200
MAX_LOGO_BYTES = 48 * 1024  # within the portal's 64 KiB body limit, with the upload form around it
MAX_LOGO_PIXELS = 1024
LOGO_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_COLOUR = re.compile(r"^#[0-9a-f]{6}$")
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")


@dataclass(frozen=True)
class Branding:
    display_name: str
    accent_colour: str | None
    contact: str | None
    contact_is_email: bool
    logo_version: str | None
    logo_type: str | None = None
    logo_width: int | None = None
    logo_height: int | None = None

    def as_dict(self) -> dict:
        return {"display_name": self.display_name, "accent_colour": self.accent_colour, "contact": self.contact,
                "contact_is_email": self.contact_is_email, "logo": self.logo_version is not None,
                "logo_type": self.logo_type, "logo_width": self.logo_width, "logo_height": self.logo_height,
                "logo_version": self.logo_version}


@dataclass(frozen=True)
class Logo:
    content_type: str
    data: bytes
    width: int
    height: int
    version: str


_UNSET = object()


def is_email(contact: str | None) -> bool:
    return bool(contact) and bool(_EMAIL.match(contact or ""))


def get_branding(store: Store, tenant_id: int) -> Branding:
    with store.read() as conn:
        row = conn.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
        if row is None:
            raise NotFound("tenant", N_("no such tenant"))
        logo = conn.execute(select(tenant_logos.c.content_type, tenant_logos.c.width, tenant_logos.c.height)
                            .where(tenant_logos.c.tenant_id == tenant_id)).first()
    return Branding(row.name, row.accent_colour, row.contact, is_email(row.contact), row.logo_version,
                    logo.content_type if logo else None, logo.width if logo else None, logo.height if logo else None)


def check_display_name(value, problems: Problems) -> str:
    text = nfc(str(value)).strip()
    if not text:
        problems.add("display_name", N_("must not be empty: the organisation's name as people know it, e.g. Acme Corp"))
    elif len(text) > MAX_NAME:
        problems.add("display_name", N_("must be at most %(max)d characters"), max=MAX_NAME)
    elif control_character_problem(text):
        problems.add("display_name", control_character_problem(text))
    return text


def check_accent(value, problems: Problems) -> str | None:
    """#rrggbb (lowercased), or None for Ostiary's own colours ("" or "none")."""
    text = str(value).strip().lower()
    if text in ("", "none"):
        return None
    if not _COLOUR.match(text):
        problems.add("accent_colour", N_('"%(colour)s" is not a colour: give six hex digits after #, e.g. #1f5fbf, '
                                         'or "none" for the default'), colour=text[:20])
        return None
    return text


def check_contact(value, problems: Problems) -> str | None:
    """Who to ask for access: an email address or one line of text; None when empty."""
    text = nfc(str(value)).strip()
    if not text or text.lower() == "none":
        return None
    if len(text) > MAX_CONTACT:
        problems.add("contact", N_("must be at most %(max)d characters"), max=MAX_CONTACT)
    elif control_character_problem(text):
        problems.add("contact", control_character_problem(text))
    return text


def set_branding(store: Store, tenant_id: int, actor: Actor, *, display_name=_UNSET, accent_colour=_UNSET,
                 contact=_UNSET) -> Branding:
    """Changes what is given (None for a field means: leave it). Every field is
    checked before anything is written."""
    problems = Problems()
    values: dict = {}
    if display_name is not _UNSET and display_name is not None:
        values["name"] = check_display_name(display_name, problems)
    if accent_colour is not _UNSET and accent_colour is not None:
        values["accent_colour"] = check_accent(accent_colour, problems)
    if contact is not _UNSET and contact is not None:
        values["contact"] = check_contact(contact, problems)
    problems.raise_if_any()
    if values:
        with store.write() as conn:
            if not conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(**values)).rowcount:
                raise NotFound("tenant", N_("no such tenant"))
            detail = {("display_name" if k == "name" else k): v for k, v in values.items()}
            TenantScope(conn, tenant_id).audit(actor.name, "tenant.branding", "tenant", tenant_id, actor.addr, **detail)
            record_change(conn, tenant_id, Entity.TENANT, tenant_id)
    return get_branding(store, tenant_id)


def set_logo(store: Store, tenant_id: int, actor: Actor, data: bytes) -> Branding:
    kind, width, height, clean = check_logo(data)
    digest = hashlib.sha256(clean).hexdigest()
    with store.write() as conn:
        if conn.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first() is None:
            raise NotFound("tenant", N_("no such tenant"))
        conn.execute(delete(tenant_logos).where(tenant_logos.c.tenant_id == tenant_id))
        conn.execute(insert(tenant_logos).values(tenant_id=tenant_id, content_type=LOGO_TYPES[kind], data=clean,
                                                 width=width, height=height, sha256=digest, updated_at=time.time()))
        conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(logo_version=digest[:16]))
        TenantScope(conn, tenant_id).audit(actor.name, "tenant.logo", "tenant", tenant_id, actor.addr,
                                           type=LOGO_TYPES[kind], width=width, height=height, bytes=len(clean))
        record_change(conn, tenant_id, Entity.TENANT, tenant_id)
    return get_branding(store, tenant_id)


def remove_logo(store: Store, tenant_id: int, actor: Actor) -> Branding:
    with store.write() as conn:
        if not conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(logo_version=None)).rowcount:
            raise NotFound("tenant", N_("no such tenant"))
        conn.execute(delete(tenant_logos).where(tenant_logos.c.tenant_id == tenant_id))
        TenantScope(conn, tenant_id).audit(actor.name, "tenant.logo_removed", "tenant", tenant_id, actor.addr)
        record_change(conn, tenant_id, Entity.TENANT, tenant_id)
    return get_branding(store, tenant_id)


def get_logo(store: Store, tenant_id: int) -> Logo | None:
    with store.read() as conn:
        row = conn.execute(select(tenant_logos).where(tenant_logos.c.tenant_id == tenant_id)).first()
    if row is None:
        return None
    return Logo(row.content_type, bytes(row.data), row.width, row.height, row.sha256[:16])


# --- the logo's bytes ---------------------------------------------------------------------------------------

def _refuse(message: str, /, **params):
    raise InvalidInput([Problem("logo", message, **params)])


def check_logo(data: bytes) -> tuple[str, int, int, bytes]:
    """(kind, width, height, cleaned bytes) of an acceptable logo, or InvalidInput naming the rule."""
    if not data:
        _refuse(N_("is empty: upload a PNG, JPEG or WebP image"))
    if len(data) > MAX_LOGO_BYTES:
        _refuse(N_("is %(size)d KiB: at most %(max)d KiB is accepted"), size=len(data) // 1024, max=MAX_LOGO_BYTES // 1024)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind, (width, height, clean) = "png", _clean_png(data)
    elif data.startswith(b"\xff\xd8\xff"):
        kind, (width, height, clean) = "jpeg", _clean_jpeg(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind, (width, height, clean) = "webp", _clean_webp(data)
    else:
        head = data[:512].lstrip().lower()
        if head.startswith((b"<?xml", b"<svg")) or b"<svg" in head:
            _refuse(N_("is an SVG image, which can carry script: upload a PNG, JPEG or WebP image"))
        _refuse(N_("is not a PNG, JPEG or WebP image"))
    if not (1 <= width <= MAX_LOGO_PIXELS and 1 <= height <= MAX_LOGO_PIXELS):
        _refuse(N_("is %(width)d×%(height)d pixels: at most %(max)d×%(max)d is accepted"), width=width, height=height,
                max=MAX_LOGO_PIXELS)
    return kind, width, height, clean


# Chunks that draw the image; everything else (tEXt, zTXt, iTXt, eXIf, private chunks) is dropped.
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs",
             b"bKGD"}


def _clean_png(data: bytes) -> tuple[int, int, bytes]:
    pos, out, width, height, seen_end = 8, [data[:8]], 0, 0, False
    while pos < len(data):
        if pos + 12 > len(data):
            _refuse(N_("is a damaged PNG (a chunk is cut short)"))
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            _refuse(N_("is a damaged PNG (a chunk is cut short)"))
        body = data[pos + 8:pos + 8 + length]
        if zlib.crc32(ctype + body) != struct.unpack(">I", data[end - 4:end])[0]:
            _refuse(N_("is a damaged PNG (a chunk's checksum is wrong)"))
        if len(out) == 1:
            if ctype != b"IHDR" or length != 13:
                _refuse(N_("is a damaged PNG (it does not start with its header)"))
            width, height = struct.unpack(">II", body[:8])
        if ctype in _PNG_KEEP:
            out.append(data[pos:end])
        pos = end
        if ctype == b"IEND":
            seen_end = True
            break  # anything after IEND is dropped
    if not seen_end or not any(c[4:8] == b"IDAT" for c in out[1:]):
        _refuse(N_("is a damaged PNG (no image data, or no end)"))
    return width, height, b"".join(out)


def _clean_jpeg(data: bytes) -> tuple[int, int, bytes]:
    pos, out, width, height = 2, [data[:2]], 0, 0
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            _refuse(N_("is a damaged JPEG (a segment is cut short)"))
        marker = data[pos + 1]
        if marker == 0xD9:
            _refuse(N_("is a damaged JPEG (no image data)"))
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        end = pos + 2 + length
        if length < 2 or end > len(data):
            _refuse(N_("is a damaged JPEG (a segment is cut short)"))
        if marker in (0xC0, 0xC1, 0xC2) and length >= 7:
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
        # Keep the image's own segments: JFIF (APP0), an ICC profile (APP2), Adobe (APP14), tables and frames.
        # Comments (COM) and the other APPn (Exif, XMP, private data) are dropped.
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE) or marker in (0xE0, 0xE2, 0xEE):
            out.append(data[pos:end])
        pos = end
        if marker == 0xDA:  # start of scan: entropy-coded data up to the end-of-image marker
            eoi = data.rfind(b"\xff\xd9")
            if eoi < pos:
                _refuse(N_("is a damaged JPEG (no end of image)"))
            out.append(data[pos:eoi + 2])  # anything after the end is dropped
            break
    if not width or not height:
        _refuse(N_("is a JPEG without a frame header"))
    return width, height, b"".join(out)


_WEBP_KEEP = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ICCP"}


def _clean_webp(data: bytes) -> tuple[int, int, bytes]:
    size = struct.unpack("<I", data[4:8])[0]
    if size + 8 != len(data):
        _refuse(N_("is a damaged WebP (its size does not match the file)"))
    pos, chunks, width, height = 12, [], 0, 0
    while pos < len(data):
        if pos + 8 > len(data):
            _refuse(N_("is a damaged WebP (a chunk is cut short)"))
        ctype, length = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        end = pos + 8 + length + (length & 1)
        if end > len(data):
            _refuse(N_("is a damaged WebP (a chunk is cut short)"))
        body = data[pos + 8:pos + 8 + length]
        if ctype == b"VP8X" and length >= 10:
            width = 1 + int.from_bytes(body[4:7], "little")
            height = 1 + int.from_bytes(body[7:10], "little")
            body = bytes([body[0] & 0b00110000]) + body[1:]  # only the ICC and alpha flags: no EXIF/XMP/animation
            chunks.append(ctype + struct.pack("<I", length) + body + data[pos + 8 + length:end])
        elif ctype in _WEBP_KEEP:
            if ctype == b"VP8 " and not width and length >= 10 and body[3:6] == b"\x9d\x01\x2a":
                width = struct.unpack("<H", body[6:8])[0] & 0x3FFF
                height = struct.unpack("<H", body[8:10])[0] & 0x3FFF
            elif ctype == b"VP8L" and not width and length >= 5 and body[0] == 0x2F:
                bits = int.from_bytes(body[1:5], "little")
                width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            chunks.append(data[pos:end])
        pos = end
    if not any(c[:4] in (b"VP8 ", b"VP8L") for c in chunks):
        _refuse(N_("is a WebP without a still image (animations are not accepted)"))
    body = b"WEBP" + b"".join(chunks)
    return width, height, b"RIFF" + struct.pack("<I", len(body)) + body


def on_accent(colour: str) -> str:
    """Black or white, whichever reads better on `colour` (WCAG contrast)."""
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    lum = 0.2126 * channel(colour[1:3]) + 0.7152 * channel(colour[3:5]) + 0.0722 * channel(colour[5:7])
    return "#000000" if (lum + 0.05) / 0.05 > 1.05 / (lum + 0.05) else "#ffffff"
