#!/usr/bin/env node
// Prints the file version of a Windows executable's VERSIONINFO resource as Windows Installer
// writes it (a.b.c.d), or exits 1 when it has none:
//   node packaging/windows/pe-version.mjs cpx-connect.exe
// The fixed part of a VERSIONINFO (VS_FIXEDFILEINFO) starts with the signature 0xFEEF04BD and its
// struct version 0x00010000, then dwFileVersionMS and dwFileVersionLS: that is all this reads.
import { readFileSync } from "node:fs";

const file = process.argv[2];
if (!file) {
  console.error("usage: pe-version.mjs FILE.exe");
  process.exit(2);
}
let bytes;
try {
  bytes = readFileSync(file);
} catch (error) {
  console.error(`pe-version: ${file}: ${error instanceof Error ? error.message : error}`);
  process.exit(2);
}
const signature = Buffer.from([0xbd, 0x04, 0xef, 0xfe, 0x00, 0x00, 0x01, 0x00]);
const at = bytes.indexOf(signature);
if (at < 0 || at + 16 > bytes.length) {
  console.error(`pe-version: ${file} has no version resource`);
  process.exit(1);
}
const high = bytes.readUInt32LE(at + 8);
const low = bytes.readUInt32LE(at + 12);
console.log([high >>> 16, high & 0xffff, low >>> 16, low & 0xffff].join("."));
