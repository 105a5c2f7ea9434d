"""Image providers: fal, Replicate, Together, RunPod, OpenAI over httpx, and the offline renderer."""
