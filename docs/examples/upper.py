"""A Python transform: ASCII letters to upper case, byte for byte."""

TABLE = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class Upper:
    def process(self, chunk):
        return bytes(chunk).translate(TABLE)

    def flush(self):
        return b""
