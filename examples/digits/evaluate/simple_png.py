"""A standard-library PNG writer and confusion-matrix renderer, for machines without matplotlib."""

import struct
import zlib

# 3x5 bitmap font for the digits, one string of 15 bits (rows top to bottom) per digit.
_FONT = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001001001", "8": "111101111101111",
    "9": "111101111001111",
}


def write_png(path, pixels):
    """Writes `pixels` (rows of (r, g, b) tuples, 0..255, all rows the same length) as an
    8-bit RGB PNG with no ancillary chunks, so equal pixels give equal bytes."""
    height, width = len(pixels), len(pixels[0])

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def _text(canvas, x, y, text, color, scale):
    for i, ch in enumerate(text):
        bits = _FONT[ch]
        for r in range(5):
            for c in range(3):
                if bits[r * 3 + c] == "1":
                    for dy in range(scale):
                        for dx in range(scale):
                            canvas[y + r * scale + dy][x + (i * 4 + c) * scale + dx] = color


def confusion_png(path, matrix, cell=36):
    """Renders a square confusion matrix (rows: true class, columns: predicted) as a PNG: white
    to blue by the share of each row, counts written in each cell, class digits along the top
    and left edges."""
    n = len(matrix)
    margin = cell
    size = margin + n * cell
    white, black = (255, 255, 255), (0, 0, 0)
    canvas = [[white] * size for _ in range(size)]
    scale = 2
    for k in range(n):
        label = str(k)
        _text(canvas, margin + k * cell + (cell - 6) // 2, (margin - 10) // 2, label, black, scale)
        _text(canvas, (margin - 6) // 2, margin + k * cell + (cell - 10) // 2, label, black, scale)
    for i, row in enumerate(matrix):
        total = max(1, sum(row))
        for j, count in enumerate(row):
            share = count / total
            color = tuple(int(round(255 - share * (255 - c))) for c in (8, 48, 107))
            y0, x0 = margin + i * cell, margin + j * cell
            for y in range(y0, y0 + cell):
                for x in range(x0, x0 + cell):
                    canvas[y][x] = color if (y - y0) and (x - x0) else (200, 200, 200)
            if count:
                label = str(count)
                ink = white if share > 0.5 else black
                width = (len(label) * 4 - 1) * scale
                _text(canvas, x0 + (cell - width) // 2, y0 + (cell - 10) // 2, label, ink, scale)
    write_png(path, canvas)
