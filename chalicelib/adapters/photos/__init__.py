"""Photo checks' detectors: faces (OpenCV's Haar cascade, shipped in opencv-python-headless)
and moderation (NudeNet's ONNX model, shipped in the nudenet package). Both are imported on
first use only: they are heavy and never on the API's cold start (see docs/photos.md)."""
