"""Photos: an avatar that looks like the user (docs/photos.md), one module per use case.

``uploads`` (create, read), ``check`` (the checks on arrival), ``receive`` (the local stage's
form upload), ``gate`` (a photo generation's upload), ``privacy`` (erasure, export, retention),
``records`` (the store documents), ``cases`` (the bundle the container holds) and ``wiring``
(builds it from ports). Nothing is imported here: the package sits under the cold start's imports.
"""
