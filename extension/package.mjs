#!/usr/bin/env node
// Packages the extension, from the same files as the unpacked builds (build.mjs):
//
//   node extension/package.mjs [--out DIR] [--version V]
//       the store uploads: cpx-connect-<v>-chromium.zip (Chrome Web Store, Edge Add-ons: no `key`,
//       no `update_url`, the store assigns the id) and cpx-connect-<v>-firefox.xpi (unsigned: AMO
//       signs it, listed or for self-distribution)
//   node extension/package.mjs --crx-key KEY.pem [--update-url URL] [--codebase URL] [--out DIR] [--version V]
//       also the self-hosted channel: cpx-connect-<v>.crx (CRX3 signed with KEY.pem, the manifest's
//       `update_url` set) and updates.xml pointing at it (`codebase`, by default next to updates.xml)
//   node extension/package.mjs keygen KEY.pem
//       a new RSA-2048 signing key (mode 0600, never inside the repository); prints its id and the
//       public key to commit as the self-hosted channel's (see README.md, "Channels and ids")
//
// DIR defaults to extension/dist/packages. The version is manifest.template.json's unless --version
// (tests of an update) overrides it. The outputs are reproducible: the same sources, version, URL
// and key give the same bytes (sorted entries, fixed timestamps, deterministic signatures).

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildFiles, checkIds, extensionVersion, readIds } from "./build.mjs";
import { extensionIdOfSpki, packCrx3 } from "./tools/crx.mjs";
import { zip } from "./tools/zip.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, "..");

/**
 * @typedef {object} PackageOptions
 * @property {string} out
 * @property {string} [version]
 * @property {string} [crxKey] path of the PEM private key
 * @property {string} [updateUrl] where updates.xml is served (self-hosted)
 * @property {string} [codebase] where the .crx is served (self-hosted)
 */

/**
 * @param {PackageOptions} options
 * @returns {{ version: string, files: Record<string, string>, crxId?: string }} the paths written
 */
export function packageAll(options) {
  checkIds(readIds());
  const version = options.version ?? extensionVersion();
  if (!/^\d+(\.\d+){0,3}$/.test(version)) throw new Error(`version ${version}: 1 to 4 dot-separated integers`);
  mkdirSync(options.out, { recursive: true });
  /** @type {Record<string, string>} */
  const files = {};
  const write = (/** @type {string} */ kind, /** @type {string} */ name, /** @type {Buffer | string} */ bytes) => {
    files[kind] = join(options.out, name);
    writeFileSync(files[kind], bytes);
  };
  write("chromiumZip", `cpx-connect-${version}-chromium.zip`, zip(buildFiles("chromium", { version })));
  write("xpi", `cpx-connect-${version}-firefox.xpi`, zip(buildFiles("firefox", { version })));
  if (!options.crxKey) return { version, files };

  const updateUrl = options.updateUrl ?? readIds().channels.selfHosted.updateUrl;
  if (!updateUrl || !/^https:\/\//.test(updateUrl)) throw new Error(`update URL ${updateUrl}: must be https://`);
  const crxName = `cpx-connect-${version}.crx`;
  const codebase = options.codebase ?? new URL(crxName, updateUrl).href;
  const key = createPrivateKey(readFileSync(options.crxKey));
  const { crx, id } = packCrx3(zip(buildFiles("chromium", { version, updateUrl })), key);
  write("crx", crxName, crx);
  write("updatesXml", "updates.xml", updatesXml(id, version, codebase, crx));
  return { version, files, crxId: id };
}

/**
 * The update manifest Chromium fetches from a self-hosted update URL (Chrome's "Self-host for
 * Linux" guide: gupdate protocol 2.0, one app, one updatecheck). `hash_sha256` and `size` of the
 * CRX: without them Chromium 156 downloads an update of an installed extension but never installs
 * it (seen in tests/browser/system/force-install.test.mjs; the first install works either way).
 * @param {string} id @param {string} version @param {string} codebase @param {Buffer} crx
 */
export function updatesXml(id, version, codebase, crx) {
  const attribute = (/** @type {string} */ value) => value.replace(/&/g, "&amp;").replace(/'/g, "&apos;").replace(/</g, "&lt;");
  return [
    "<?xml version='1.0' encoding='UTF-8'?>",
    "<gupdate xmlns='http://www.google.com/update2/response' protocol='2.0'>",
    `  <app appid='${id}'>`,
    `    <updatecheck codebase='${attribute(codebase)}' version='${version}' hash_sha256='${createHash("sha256").update(crx).digest("hex")}' size='${crx.length}' />`,
    "  </app>",
    "</gupdate>",
    "",
  ].join("\n");
}

/** @param {string} path */
function keygen(path) {
  const target = resolve(path);
  if (!relative(REPO_ROOT, target).startsWith("..")) throw new Error(`${target} is inside the repository: keep signing keys outside it`);
  if (existsSync(target)) throw new Error(`${target} exists; refusing to replace a key`);
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  writeFileSync(target, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
  const spki = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  console.log(`wrote ${target}`);
  console.log(`chrome extension id: ${extensionIdOfSpki(spki)}`);
  process.stdout.write(createPublicKey(privateKey).export({ type: "spki", format: "pem" }).toString());
}

function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: "string" },
      version: { type: "string" },
      "crx-key": { type: "string" },
      "update-url": { type: "string" },
      codebase: { type: "string" },
    },
  });
  if (positionals[0] === "keygen") {
    if (positionals.length !== 2) throw new Error("usage: package.mjs keygen KEY.pem");
    keygen(positionals[1]);
    return;
  }
  if (positionals.length) throw new Error(`unexpected ${positionals.join(" ")}`);
  const result = packageAll({
    out: resolve(values.out ?? join(HERE, "dist", "packages")),
    version: values.version,
    crxKey: values["crx-key"],
    updateUrl: values["update-url"],
    codebase: values.codebase,
  });
  for (const path of Object.values(result.files)) console.log(path);
  if (result.crxId) {
    const selfHosted = readIds().channels.selfHosted.chromeExtensionId;
    const note = result.crxId === selfHosted ? "the self-hosted channel's id" : "NOT the self-hosted channel's id of ids.json";
    console.log(`crx id: ${result.crxId} (${note})`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    main();
  } catch (error) {
    console.error(`package.mjs: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
}
