// A Node.js HTTP endpoint: the file streamed, with Range (a video player seeks).
import fs from "node:fs";
import http from "node:http";
import { pipeline } from "node:stream";

const file = process.env.FILE;
const { size } = fs.statSync(file);

http.createServer((req, res) => {
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
  const start = range ? Number(range[1]) : 0;
  const end = range?.[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
  if (start > end) return res.writeHead(416, { "Content-Range": `bytes */${size}` }).end();
  const headers = { "Content-Type": "video/mp4", "Accept-Ranges": "bytes", "Content-Length": end - start + 1 };
  if (range) headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
  res.writeHead(range ? 206 : 200, headers);
  pipeline(fs.createReadStream(file, { start, end }), res, () => {});
}).listen(Number(process.env.PORT), "127.0.0.1");
