#!/usr/bin/env node
// Builds the extension for Chromium (Chrome, Edge) and Firefox from one source tree:
//   node extension/build.mjs            -> extension/dist/chromium/, extension/dist/firefox/
// These are the development builds (unpacked; the Chromium one carries the development `key`,
// so its id is the development channel's). The packages an administrator or a store receives
// (CRX3 + updates.xml, xpi, store zips) are made by package.mjs from the same functions.
// No network, no npm dependency. Checks that extension/ids.json agrees with the committed keys.

import { createHash } from "node:crypto";
import { deflateSync } from "node:zlib";
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(HERE, "src");
const DIST = join(HERE, "dist");
// data_collection_permissions came with Firefox 140 (desktop) and 142 (Android); web-ext lint
// warns below that, and AMO applies the same minimum to Android when gecko_android is absent.
// The browser tests run ESR 153.
const FIREFOX_MIN_VERSION = "142.0";

/**
 * extension/ids.json, the build's input for every id: the Firefox add-on id, the native host's
 * name, and per distribution channel (store, selfHosted, development) the Chrome extension id
 * and where updates come from. Top-level `chromeExtensionId` is the development channel's (the
 * unpacked build, the tests, `cpx-connect install --dev`).
 * @typedef {{ chromeExtensionId: string | null, publicKey?: string, updateUrl?: string, firefoxInstallUrl?: string }} Channel
 * @typedef {{ chromeExtensionId: string, firefoxAddonId: string, nativeHostName: string,
 *   allowedChromeExtensionIds: string[], channels: Record<"store" | "selfHosted" | "development", Channel> }} Ids
 * @returns {Ids}
 */
export function readIds() {
  return JSON.parse(readFileSync(join(HERE, "ids.json"), "utf8"));
}

/**
 * Fails when ids.json contradicts itself or the committed public keys: a channel with a
 * `publicKey` must have that key's id, the development channel's id is the top-level one, and
 * the host admits exactly the release channels' known ids.
 * @param {Ids} ids
 */
export function checkIds(ids) {
  const problems = [];
  for (const [name, channel] of Object.entries(ids.channels)) {
    const id = channel.chromeExtensionId;
    if (id !== null && !/^[a-p]{32}$/.test(id)) problems.push(`channels.${name}.chromeExtensionId ${JSON.stringify(id)} is not 32 letters a-p`);
    if (channel.publicKey) {
      const fromKey = chromeExtensionId(keyFromPem(readFileSync(join(HERE, channel.publicKey), "utf8")));
      if (fromKey !== id) problems.push(`channels.${name}: ${channel.publicKey} gives id ${fromKey}, ids.json says ${id}`);
    }
  }
  if (ids.channels.development.chromeExtensionId !== ids.chromeExtensionId) {
    problems.push("chromeExtensionId must be the development channel's id");
  }
  // The release channels only: the development key is public, so the host admits that id only
  // through an explicit `cpx-connect install --dev`.
  const release = [ids.channels.store, ids.channels.selfHosted];
  const known = release.flatMap((channel) => (channel.chromeExtensionId ? [channel.chromeExtensionId] : []));
  if (JSON.stringify(ids.allowedChromeExtensionIds) !== JSON.stringify(known)) {
    problems.push(`allowedChromeExtensionIds must list the release channels' known ids (store, selfHosted), in that order: ${JSON.stringify(known)}`);
  }
  if (problems.length) throw new Error(`extension/ids.json: ${problems.join("; ")}`);
}

/** The extension's version: manifest.template.json's, the one place it is written. */
export function extensionVersion() {
  return readTemplate().version;
}

function readTemplate() {
  return JSON.parse(readFileSync(join(HERE, "manifest.template.json"), "utf8"));
}

/**
 * The manifest `key` (base64 DER SubjectPublicKeyInfo) from the committed PEM public key.
 * @param {string} pem
 */
export function keyFromPem(pem) {
  const body = pem.match(/-----BEGIN PUBLIC KEY-----([\s\S]+?)-----END PUBLIC KEY-----/);
  if (!body) throw new Error("no PUBLIC KEY block in the PEM file");
  return body[1].replace(/\s+/g, "");
}

/**
 * Chromium's extension id: the first 32 hex digits of SHA-256(DER SPKI), each digit 0-f mapped to a-p.
 * @param {string} base64Der
 */
export function chromeExtensionId(base64Der) {
  const digest = createHash("sha256").update(Buffer.from(base64Der, "base64")).digest("hex").slice(0, 32);
  return [...digest].map((digit) => String.fromCharCode("a".charCodeAt(0) + parseInt(digit, 16))).join("");
}

/**
 * @typedef {object} ManifestOptions
 * @property {string} [key] Chromium: the manifest `key` (development build only: stores refuse it,
 *   and a CRX takes its id from its signing key)
 * @property {string} [updateUrl] Chromium: `update_url` (self-hosted CRX)
 * @property {string} [version] overrides the template's version (tests of an update)
 */

/**
 * @param {Record<string, any>} template
 * @param {"chromium" | "firefox"} target
 * @param {ManifestOptions} [options]
 */
export function manifestFor(template, target, options = {}) {
  const manifest = structuredClone(template);
  if (options.version) manifest.version = options.version;
  if (target === "chromium") {
    if (options.key) manifest.key = options.key;
    if (options.updateUrl) manifest.update_url = options.updateUrl;
    manifest.minimum_chrome_version = "120";
    manifest.background = { service_worker: "background/background.js", type: "module" };
    manifest.storage = { managed_schema: "managed_schema.json" };
  } else {
    manifest.background = { scripts: ["background/background.js"], type: "module" };
    manifest.browser_specific_settings = {
      gecko: {
        id: readIds().firefoxAddonId,
        strict_min_version: FIREFOX_MIN_VERSION,
        // Mozilla's consent model for data collection (required for new add-ons on AMO): the
        // extension sends nothing anywhere; the token goes only to the page that asked for it.
        data_collection_permissions: { required: ["none"] },
      },
    };
  }
  manifest.icons = { 16: "icons/icon-16.png", 32: "icons/icon-32.png", 48: "icons/icon-48.png", 128: "icons/icon-128.png" };
  manifest.action.default_icon = { 16: "icons/icon-16.png", 32: "icons/icon-32.png" };
  return manifest;
}

/**
 * Every file of one build, as path -> bytes (paths with forward slashes). The unpacked builds
 * and the packages are written from this, so they cannot differ.
 * @param {"chromium" | "firefox"} target
 * @param {ManifestOptions} [options]
 * @returns {Map<string, Buffer>}
 */
export function buildFiles(target, options = {}) {
  /** @type {Map<string, Buffer>} */
  const files = new Map();
  for (const file of walk(SOURCE)) files.set(relative(SOURCE, file).split(sep).join("/"), readFileSync(file));
  if (target === "chromium") files.set("managed_schema.json", readFileSync(join(HERE, "managed_schema.json")));
  for (const size of [16, 32, 48, 128]) files.set(`icons/icon-${size}.png`, iconPng(size));
  files.set("manifest.json", Buffer.from(`${JSON.stringify(manifestFor(readTemplate(), target, options), null, 2)}\n`));
  return files;
}

/** @param {string} dir @returns {string[]} */
function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** @param {Map<string, Buffer>} files @param {string} out */
export function writeTree(files, out) {
  rmSync(out, { recursive: true, force: true });
  for (const [name, bytes] of files) {
    mkdirSync(dirname(join(out, name)), { recursive: true });
    writeFileSync(join(out, name), bytes);
  }
}

function build() {
  const ids = readIds();
  checkIds(ids);
  const developmentKey = keyFromPem(readFileSync(join(HERE, /** @type {string} */ (ids.channels.development.publicKey)), "utf8"));
  writeTree(buildFiles("chromium", { key: developmentKey }), join(DIST, "chromium"));
  writeTree(buildFiles("firefox"), join(DIST, "firefox"));
  console.log(`built ${join(DIST, "chromium")} and ${join(DIST, "firefox")}`);
  console.log(`chrome extension id: ${ids.chromeExtensionId} (development)`);
  console.log(`firefox add-on id:   ${ids.firefoxAddonId}`);
}

// ---- icon: a white card with a gold chip on Marianne blue, drawn into an RGBA PNG ----

/** @param {number} size */
function iconPng(size) {
  const pixels = Buffer.alloc(size * size * 4);
  const blue = [0, 0, 145, 255];
  const white = [255, 255, 255, 255];
  const chip = [230, 180, 40, 255];
  const radius = size * 0.18;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let color = [0, 0, 0, 0];
      if (insideRoundedRect(x + 0.5, y + 0.5, 0, 0, size, size, radius)) color = blue;
      const card = { x: size * 0.14, y: size * 0.26, w: size * 0.72, h: size * 0.48 };
      if (insideRoundedRect(x + 0.5, y + 0.5, card.x, card.y, card.w, card.h, size * 0.06)) color = white;
      if (insideRoundedRect(x + 0.5, y + 0.5, card.x + card.w * 0.12, card.y + card.h * 0.3, card.w * 0.24, card.h * 0.38, size * 0.03)) {
        color = chip;
      }
      pixels.set(color, (y * size + x) * 4);
    }
  }
  return encodePng(size, size, pixels);
}

/** @param {number} px @param {number} py @param {number} x @param {number} y @param {number} w @param {number} h @param {number} r */
function insideRoundedRect(px, py, x, y, w, h, r) {
  if (px < x || py < y || px > x + w || py > y + h) return false;
  const cx = Math.min(Math.max(px, x + r), x + w - r);
  const cy = Math.min(Math.max(py, y + r), y + h - r);
  return (px - cx) ** 2 + (py - cy) ** 2 <= r * r;
}

/** @param {number} width @param {number} height @param {Buffer} rgba */
function encodePng(width, height, rgba) {
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) rgba.copy(raw, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** @param {string} type @param {Buffer} data */
function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** @param {Buffer} bytes */
function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) build();
