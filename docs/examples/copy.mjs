// A Node.js strategy: the file into the sink (through the transform, when the cell has one).
import fs from "node:fs";
import { pipeline } from "node:stream/promises";

export default async function copy({ sourcePath, sink, chunkBytes, transform, signal }) {
  const source = fs.createReadStream(sourcePath, { highWaterMark: chunkBytes });
  await pipeline(...(transform ? [source, transform, sink] : [source, sink]), { signal });
}
