// Reproducible ZIP archives for the extension's packages (Chrome Web Store zip, Firefox xpi, the
// CRX body), written and read by fflate (README.md in this folder: why fflate, what was compared).
// The same files give the same bytes on any machine, at any time and with any Node.js: entries
// sorted by path, every timestamp the DOS epoch (1980-01-01 00:00), no extra fields, no directory
// entries, no file modes; data deflated at level 9 by fflate's own compressor (not the system
// zlib, whose output may change between versions), stored when that is not smaller.

import { deflateSync, unzipSync, zipSync } from "fflate";

/**
 * @param {Map<string, Buffer>} files path (forward slashes, relative) -> content
 * @returns {Buffer}
 */
export function zip(files) {
  // The DOS epoch, the earliest time a ZIP entry can carry. fflate reads a date's local fields,
  // so it is made in the time zone of the moment of writing.
  const dosEpoch = new Date(1980, 0, 1, 0, 0, 0);
  /** @type {import("fflate").Zippable} */
  const entries = {};
  for (const name of [...files.keys()].sort()) {
    if (name.startsWith("/") || name.split("/").includes("..") || name.includes("\\")) {
      throw new Error(`zip: refusing entry name ${JSON.stringify(name)}`);
    }
    const data = new Uint8Array(/** @type {Buffer} */ (files.get(name)));
    const level = deflateSync(data, { level: 9 }).length < data.length ? 9 : 0;
    entries[name] = [data, { level, mtime: dosEpoch }];
  }
  return Buffer.from(zipSync(entries));
}

/**
 * Reads a ZIP (stored or deflated entries): the packages above and the stores' uploads, in tests.
 * @param {Buffer} archive
 * @returns {Map<string, Buffer>}
 */
export function unzip(archive) {
  const entries = unzipSync(new Uint8Array(archive));
  return new Map(Object.entries(entries).map(([name, data]) => [name, Buffer.from(data)]));
}
