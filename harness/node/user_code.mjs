// A user's JavaScript module, outside any measured run (the Python side: harness/worker/user_code.py).
//
// `node user_code.mjs check ROLE PATH EXPORT`: import the module and check what EXPORT names (a
// strategy: a function; a transform: a function that makes a stream Transform). Exit 0, or exit 1
// with one line on stdout.
// `node user_code.mjs reference PATH EXPORT SOURCE CHUNK_BYTES`: the transform applied to SOURCE
// read in CHUNK_BYTES chunks, its output on stdout (the parent hashes it).
//
// No npm dependency: node: built-ins only.

import fs from "node:fs";
import { pipeline } from "node:stream/promises";

import { loadUserExport, makeUserTransform, topFrame } from "./strategies.mjs";

async function check(role, path, exportName) {
  if (role === "transform") {
    await makeUserTransform(path, exportName);
    return;
  }
  await loadUserExport(path, exportName);
}

async function reference(path, exportName, source, chunkBytes) {
  const transform = await makeUserTransform(path, exportName);
  await pipeline(fs.createReadStream(source, { highWaterMark: chunkBytes }), transform, process.stdout);
}

const [command, ...args] = process.argv.slice(2);
try {
  if (command === "check") await check(args[0], args[1], args[2]);
  else if (command === "reference") await reference(args[0], args[1], args[2], Number(args[3]));
  else throw new Error("usage: user_code.mjs check ROLE PATH EXPORT | reference PATH EXPORT SOURCE CHUNK");
} catch (e) {
  const where = topFrame(e);
  const line = `${e?.name || "Error"}: ${e?.message ?? e}${where ? ` (at ${where})` : ""}\n`;
  // A reference's stdout is its output: its failure goes to stderr.
  (command === "reference" ? process.stderr : process.stdout).write(line);
  process.exitCode = 1;
}
