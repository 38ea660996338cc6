// A Node.js Transform: ASCII letters to upper case, byte for byte.
import { Transform } from "node:stream";

export default function upper() {
  return new Transform({
    transform(chunk, _encoding, done) {
      const out = Buffer.from(chunk);
      for (let i = 0; i < out.length; i++) if (out[i] >= 97 && out[i] <= 122) out[i] -= 32;
      done(null, out);
    },
  });
}
