"""Text from outside (Clockwork, a CSV, a user) shown literally where Streamlit reads Markdown.

Streamlit renders Markdown in ``st.markdown``, captions, alerts, toasts, headings, labels, help
tooltips, metric labels and radio options, with GitHub-flavoured autolinks. A backslash before
every Markdown character stops links, images, HTML, styling and Streamlit's ``:directives:``,
but not autolinks: remark-gfm finds ``http://``, ``www.`` and ``name@domain`` in the text
*after* escapes are resolved. A word joiner (U+2060, invisible and zero-width) inside each of
those three patterns keeps them plain text.
"""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()#+-.!|<>:~$=@&")
_WORD_JOINER = "\u2060"
# Where GitHub-flavoured autolink literals would start: ``scheme:`` + ``//``, ``www.``, ``x@y``.
_AUTOLINK_SEAMS = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)


def plain(text: object) -> str:
    """``text`` as Markdown that Streamlit shows exactly as written: no link, image, HTML,
    styling, directive or autolink can come out of it."""
    joined = _AUTOLINK_SEAMS.sub(_WORD_JOINER, str(text))
    return "".join(f"\\{char}" if char in _MARKDOWN_SPECIAL else char for char in joined)
