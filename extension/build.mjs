#!/usr/bin/env node
// Builds the extension for Chromium (Chrome, Edge) and Firefox from one source tree:
//   node extension/build.mjs            -> extension/dist/chromium/, extension/dist/firefox/
// No network, no npm dependency. Also (re)writes extension/ids.json and prints the Chrome id.

import { createHash } from "node:crypto";
import { deflateSync } from "node:zlib";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(HERE, "src");
const DIST = join(HERE, "dist");

export const FIREFOX_ADDON_ID = "cpx-connect@cpxconnect.org";
export const NATIVE_HOST_NAME = "org.cpxconnect.host";
const FIREFOX_MIN_VERSION = "128.0";

/**
 * The manifest `key` (base64 DER SubjectPublicKeyInfo) from the committed PEM public key.
 * @param {string} pem
 */
export function keyFromPem(pem) {
  const body = pem.match(/-----BEGIN PUBLIC KEY-----([\s\S]+?)-----END PUBLIC KEY-----/);
  if (!body) throw new Error("extension-key.pub.pem holds no PUBLIC KEY block");
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
 * @param {Record<string, any>} template
 * @param {"chromium" | "firefox"} target
 * @param {string} key
 */
export function manifestFor(template, target, key) {
  const manifest = structuredClone(template);
  if (target === "chromium") {
    manifest.key = key;
    manifest.minimum_chrome_version = "120";
    manifest.background = { service_worker: "background/background.js", type: "module" };
    manifest.storage = { managed_schema: "managed_schema.json" };
  } else {
    manifest.background = { scripts: ["background/background.js"], type: "module" };
    manifest.browser_specific_settings = {
      gecko: { id: FIREFOX_ADDON_ID, strict_min_version: FIREFOX_MIN_VERSION },
    };
  }
  manifest.icons = { 16: "icons/icon-16.png", 32: "icons/icon-32.png", 48: "icons/icon-48.png", 128: "icons/icon-128.png" };
  manifest.action.default_icon = { 16: "icons/icon-16.png", 32: "icons/icon-32.png" };
  return manifest;
}

function build() {
  const template = JSON.parse(readFileSync(join(HERE, "manifest.template.json"), "utf8"));
  const key = keyFromPem(readFileSync(join(HERE, "extension-key.pub.pem"), "utf8"));
  const chromeId = chromeExtensionId(key);
  const icons = Object.fromEntries([16, 32, 48, 128].map((size) => [size, iconPng(size)]));

  for (const target of /** @type {const} */ (["chromium", "firefox"])) {
    const out = join(DIST, target);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    cpSync(SOURCE, out, { recursive: true });
    if (target === "chromium") cpSync(join(HERE, "managed_schema.json"), join(out, "managed_schema.json"));
    mkdirSync(join(out, "icons"), { recursive: true });
    for (const [size, png] of Object.entries(icons)) writeFileSync(join(out, "icons", `icon-${size}.png`), png);
    writeFileSync(join(out, "manifest.json"), `${JSON.stringify(manifestFor(template, target, key), null, 2)}\n`);
  }

  const ids = { chromeExtensionId: chromeId, firefoxAddonId: FIREFOX_ADDON_ID, nativeHostName: NATIVE_HOST_NAME };
  writeFileSync(join(HERE, "ids.json"), `${JSON.stringify(ids, null, 2)}\n`);
  console.log(`built ${join(DIST, "chromium")} and ${join(DIST, "firefox")}`);
  console.log(`chrome extension id: ${chromeId}`);
  console.log(`firefox add-on id:   ${FIREFOX_ADDON_ID}`);
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
