"""Answers of the gallery sources' APIs, in their real shapes (trimmed to the fields we read and
a few we do not), and real tiny images for the CDN routes."""

from __future__ import annotations

import io
from typing import Any

PEXELS_KEY = "563492ad6f91700001000001pexelsTestKey"
GENERATED_KEY = "gp-Test-Key-0123456789"
UNSPLASH_KEY = "unsplash-access-key-TEST-0123456789"
NOW = 1_767_225_600.0  # a fixed clock for the sources


def image_bytes(seed: int, size: int = 96, fmt: str = "PNG") -> bytes:
    """A real picture, different for each seed (so each has its own content hash)."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (size, size), ((seed * 53) % 256, (seed * 97) % 256, (seed * 29) % 256))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((size // 4, size // 8, 3 * size // 4, 5 * size // 8), fill=(240, 200, 170))
    draw.text((4, 4), str(seed), fill=(0, 0, 0))
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt)
    return buffer.getvalue()


# --- Pexels: GET /v1/search -----------------------------------------------------------------


def pexels_photo(pid: int, photographer: str = "Joey Farina") -> dict[str, Any]:
    base = f"https://images.pexels.com/photos/{pid}/pexels-photo-{pid}.jpeg"
    return {
        "id": pid,
        "width": 3024,
        "height": 3024,
        "url": f"https://www.pexels.com/photo/smiling-woman-portrait-{pid}/",
        "photographer": photographer,
        "photographer_url": "https://www.pexels.com/@joey",
        "photographer_id": 680589,
        "avg_color": "#978E82",
        "src": {
            "original": base,
            "large2x": f"{base}?auto=compress&cs=tinysrgb&dpr=2&h=650&w=940",
            "large": f"{base}?auto=compress&cs=tinysrgb&h=650&w=940",
            "medium": f"{base}?auto=compress&cs=tinysrgb&h=350",
            "small": f"{base}?auto=compress&cs=tinysrgb&h=130",
            "portrait": f"{base}?auto=compress&cs=tinysrgb&fit=crop&h=1200&w=800",
            "landscape": f"{base}?auto=compress&cs=tinysrgb&fit=crop&h=627&w=1200",
            "tiny": f"{base}?auto=compress&cs=tinysrgb&dpr=1&fit=crop&h=200&w=280",
        },
        "liked": False,
        "alt": "Smiling woman in a grey blazer",
    }


def pexels_page(photos: list[Any], page: int = 1, per_page: int = 80, more: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"total_results": 8000, "page": page, "per_page": per_page, "photos": photos}
    if more:
        body["next_page"] = (
            f"https://api.pexels.com/v1/search/?page={page + 1}&per_page={per_page}"
            "&query=professional+headshot+portrait"
        )
    if page > 1:
        body["prev_page"] = f"https://api.pexels.com/v1/search/?page={page - 1}&per_page={per_page}"
    return body


def pexels_quota(remaining: int, reset: int = int(NOW) + 1800) -> dict[str, str]:
    return {
        "X-Ratelimit-Limit": "20000",
        "X-Ratelimit-Remaining": str(remaining),
        "X-Ratelimit-Reset": str(reset),
    }


# --- Generated Photos: GET /api/v1/faces ----------------------------------------------------


def generated_face(fid: str, *, sizes: tuple[int, ...] = (32, 64, 128, 256, 512)) -> dict[str, Any]:
    return {
        "id": fid,
        "version": "3.0",
        "meta": {
            "confidence": [0.98],
            "gender": ["female"],
            "age": ["young-adult"],
            "ethnicity": ["white"],
            "eye_color": ["brown"],
            "hair_color": ["brown"],
            "hair_length": ["medium"],
            "emotion": ["joy"],
        },
        "urls": [
            {str(s): f"https://images.generated.photos/{fid}/rs:fit:{s}:{s}/Z3M6Ly9nZW5lcmF0.jpg"}
            for s in sizes
        ],
    }


def generated_page(faces: list[Any]) -> dict[str, Any]:
    return {"faces": faces, "total": 2_681_453}


# --- Unsplash: GET /search/photos -----------------------------------------------------------


def unsplash_photo(pid: str, name: str = "Christina Wocintechchat") -> dict[str, Any]:
    raw = (
        f"https://images.unsplash.com/photo-{pid}?ixid=M3w1NjU0fDB8MXxzZWFyY2h8MXx8cG9ydHJhaXQ&ixlib=rb-4.0.3"
    )
    return {
        "id": pid,
        "slug": f"woman-smiling-{pid}",
        "created_at": "2020-07-01T18:31:27Z",
        "width": 4000,
        "height": 4000,
        "color": "#0C0C0F",
        "blur_hash": "LKO2?U%2Tw=w]~RBVZRi};RPxuwH",
        "description": None,
        "alt_description": "woman in white crew neck shirt smiling",
        "urls": {
            "raw": raw,
            "full": f"{raw}&q=85&fm=jpg&crop=entropy&cs=srgb",
            "regular": f"{raw}&q=80&fm=jpg&crop=entropy&cs=tinysrgb&w=1080&fit=max",
            "small": f"{raw}&q=80&fm=jpg&crop=entropy&cs=tinysrgb&w=400&fit=max",
            "thumb": f"{raw}&q=80&fm=jpg&crop=entropy&cs=tinysrgb&w=200&fit=max",
        },
        "links": {
            "self": f"https://api.unsplash.com/photos/{pid}",
            "html": f"https://unsplash.com/photos/{pid}",
            "download": f"https://unsplash.com/photos/{pid}/download",
            "download_location": f"https://api.unsplash.com/photos/{pid}/download?ixid=M3w1NjU0fDB8MXxzZWFyY2g",
        },
        "likes": 120,
        "user": {
            "id": "Xbh_OGLRfUM",
            "username": "wocintechchat",
            "name": name,
            "links": {
                "self": "https://api.unsplash.com/users/wocintechchat",
                "html": "https://unsplash.com/@wocintechchat",
            },
        },
        "tags": [{"type": "search", "title": "woman"}, {"type": "search", "title": "business"}],
    }


def unsplash_page(results: list[Any], total_pages: int = 3) -> dict[str, Any]:
    return {"total": 30 * total_pages, "total_pages": total_pages, "results": results}
