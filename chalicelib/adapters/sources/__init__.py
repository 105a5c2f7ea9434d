"""Gallery sources: where the ready-made avatars come from.

- :mod:`.pexels` and :mod:`.generated_photos`: photos fetched through the SSRF-safe fetch and
  re-hosted under ``gallery/`` (square, 128/256/512 WebP, content-addressed);
- :mod:`.unsplash`: photos hotlinked from Unsplash's CDN, as its guidelines require;
- :mod:`.procedural`: the offline renderer, the embedded default with no key at all.

The gallery's own AI avatars (pre-generated on the batch lane) come from a use case,
``services/gallery/ai.py``, which is a gallery source too.

Each implements :class:`chalicelib.ports.GallerySource`; modules are imported where they are
used (``bootstrap.build_sources``) so that the Lambda cold start does not pay for them.
"""

__all__: list[str] = []
