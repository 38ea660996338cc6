"""A Python strategy: the file into the sink through one reused buffer (and the transform, if any)."""


class Mine:
    def run(self, source, sink, params, stats):
        buffer = bytearray(params.chunk_bytes)
        view = memoryview(buffer)
        transform = params.transform
        moved = 0
        with open(source.path, "rb", buffering=0) as f:
            while n := f.readinto(buffer):
                moved += n
                stats.saw_chunk(n)
                sink.file.write(transform.process(view[:n]) if transform else view[:n])
        if transform:
            sink.file.write(transform.flush())
        return moved
