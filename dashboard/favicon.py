"""The dashboard's favicon, an inline SVG: Streamlit serves it as a ``data:`` URL, so a demo on a
machine with no network shows it. (A ``:material/…:`` page icon makes the browser fetch the
favicon from fonts.gstatic.com; once ``set_page_config`` sets one, the pages' own material icons
stay in the navigation and never become the favicon.)"""

from __future__ import annotations

# Material Icons "sync" (Apache License 2.0), in the theme's primary colour.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="#2f5bea" '
    'd="M12 4V1L8 5l4 4V6c3.31 0 6 2.69 6 6 0 1.01-.25 1.97-.7 2.8l1.46 1.46C19.54 15.03 20 '
    "13.57 20 12c0-4.42-3.58-8-8-8zm0 14c-3.31 0-6-2.69-6-6 0-1.01.25-1.97.7-2.8L5.24 "
    '7.74C4.46 8.97 4 10.43 4 12c0 4.42 3.58 8 8 8v3l4-4-4-4v3z"/></svg>'
)
