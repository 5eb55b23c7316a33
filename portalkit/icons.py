"""The design system's icons as markup: an <svg> that uses a symbol of static/icons/sprite.svg
(no emoji glyphs: they show as empty boxes on machines without an emoji font)."""

from __future__ import annotations

from html import escape

from django.templatetags.static import static
from django.utils.safestring import SafeString, mark_safe


def sprite_url() -> str:
    return static("icons/sprite.svg")


def icon_html(name: str, *, label: str = "", sprite: str | None = None, css: str = "") -> SafeString:
    """An icon; with `label` it is an image with that accessible name, without one decorative.
    Pass `sprite` (sprite_url()) when building many icons in a loop."""
    href = f"{sprite or sprite_url()}#{name}"
    classes = f"icon icon-{name}" + (f" {css}" if css else "")
    if label:
        text = escape(label)
        attrs = f'role="img" aria-label="{text}"'
        inner = f"<title>{text}</title>"
    else:
        attrs, inner = 'aria-hidden="true"', ""
    return mark_safe(  # noqa: S308 - name, label and URL are escaped
        f'<svg class="{escape(classes)}" {attrs} focusable="false">{inner}'
        f'<use href="{escape(href)}"></use></svg>'
    )
