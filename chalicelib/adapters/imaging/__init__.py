"""The image pipeline on Pillow: verify and normalise (``decode``), resize and encode (``pipeline``)."""
