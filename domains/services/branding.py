"""A domain's brand: company name and logo shown on the login pages and headers of webmail,
time machine and archive. The logo is checked and re-encoded with Pillow: only PNG or JPEG
up to 1 MB are accepted; the stored file is a fresh PNG (no metadata) fitted to the header."""

import io
import secrets
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from core.audit import audit_record
from domains.models import Domain

LOGO_MAX_BYTES = 1024 * 1024
LOGO_FORMATS = {"PNG", "JPEG"}
LOGO_BOX = (480, 120)  # the header shows it at most 240×60 CSS px; 2× for sharp screens
# Refuse decompression bombs before decoding. A 1 MB upload can declare a huge canvas (a blank
# 6,320×6,320 RGBA PNG is 155 KB and took ~300 MB of memory to re-encode with a 40 Mpx cap);
# 16 Mpx (4096×4096) still takes any real logo, even a 12 Mpx phone photo, at ≤ ~130 MB.
_MAX_PIXELS = 4096 * 4096


def reencode_logo(upload: IO[bytes], *, size: int | None = None) -> bytes:
    """Validate an uploaded logo and return it as a clean PNG. Raises ValidationError."""
    size = size if size is not None else getattr(upload, "size", None)
    data = upload.read(LOGO_MAX_BYTES + 1)
    if (size or len(data)) > LOGO_MAX_BYTES or len(data) > LOGO_MAX_BYTES:
        raise ValidationError({"brand_logo": [_("The logo is larger than 1 MB.")]})
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            if probe.width * probe.height > _MAX_PIXELS:
                raise ValidationError({"brand_logo": [_("The logo has too many pixels.")]})
            probe.verify()
        if fmt not in LOGO_FORMATS:
            raise ValidationError({"brand_logo": [_("The logo must be a PNG or JPEG image.")]})
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (LOGO_BOX[0] * 2, LOGO_BOX[1] * 2))  # JPEG: decode at a reduced scale
            image.load()
            image = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB")
            image.thumbnail(LOGO_BOX, Image.Resampling.LANCZOS)
            out = io.BytesIO()
            image.save(out, format="PNG", optimize=True)  # no exif/text chunks are copied
    except ValidationError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own limit, met at open() by bigger canvases
        raise ValidationError({"brand_logo": [_("The logo has too many pixels.")]}) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError({"brand_logo": [_("The logo must be a PNG or JPEG image.")]}) from exc
    return out.getvalue()


def domain_set_branding(
    *,
    domain: Domain,
    brand_name: str,
    logo: IO[bytes] | None = None,
    remove_logo: bool = False,
    actor: Any | None = None,
) -> Domain:
    brand_name = (brand_name or "").strip()
    png = reencode_logo(logo) if logo is not None else None
    old_file = None
    with transaction.atomic():
        domain = Domain.objects.select_for_update().get(pk=domain.pk)
        before = {"brand_name": domain.brand_name, "brand_logo": domain.brand_logo.name or ""}
        domain.brand_name = brand_name
        domain.full_clean(exclude=["manager", "brand_logo"])
        if png is not None or remove_logo:
            old_file = domain.brand_logo.name or None
            domain.brand_logo = ""
        if png is not None:
            name = f"{domain.name}-{secrets.token_hex(6)}.png"
            domain.brand_logo.save(name, ContentFile(png), save=False)
        domain.save(update_fields=["brand_name", "brand_logo"])
        after = {"brand_name": domain.brand_name, "brand_logo": domain.brand_logo.name or ""}
        if before != after:
            audit_record(
                actor=actor,
                action="domain.branding",
                domain=domain,
                target=domain.name,
                before=before,
                after=after,
            )
        if old_file:
            storage = domain.brand_logo.storage
            transaction.on_commit(lambda: storage.delete(old_file))
    return domain
