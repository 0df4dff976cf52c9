// The packages: reproducible bytes, a CRX3 Chromium would accept (signature, id), an update
// manifest naming it, and the manifest each channel needs (store zip without key or update_url,
// CRX with update_url, xpi with the gecko id and data collection permissions).

import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { checkIds, extensionVersion, readIds } from "../build.mjs";
import { packageAll } from "../package.mjs";
import { readCrx3 } from "../tools/crx.mjs";
import { unzip, zip } from "../tools/zip.mjs";

const work = mkdtempSync(join(tmpdir(), "cpx-package-test-"));
after(() => rmSync(work, { recursive: true, force: true }));

const keyFile = join(work, "throwaway.pem");
writeFileSync(keyFile, generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }));
const UPDATE_URL = "https://updates.example.test/cpx/updates.xml";

/** @param {string} out */
const packageInto = (out) => packageAll({ out: join(work, out), crxKey: keyFile, updateUrl: UPDATE_URL });

test("ids.json agrees with the committed keys", () => {
  checkIds(readIds());
});

test("the same input gives the same bytes, whatever the files' timestamps", () => {
  const first = packageInto("first");
  // Touch every source file: a zip with real timestamps would change.
  const old = new Date("2001-02-03T04:05:06Z");
  for (const name of ["manifest.template.json", "managed_schema.json"]) utimesSync(new URL(`../${name}`, import.meta.url), old, old);
  const second = packageInto("second");
  assert.deepEqual(Object.keys(first.files).sort(), ["chromiumZip", "crx", "updatesXml", "xpi"]);
  for (const kind of Object.keys(first.files)) {
    assert.ok(readFileSync(first.files[kind]).equals(readFileSync(second.files[kind])), `${kind} differs between two builds`);
  }
});

test("the CRX3 is signed by its key, names its id, and holds the chromium build with update_url", () => {
  const result = packageInto("crx");
  const { id, archive } = readCrx3(readFileSync(result.files.crx));
  assert.equal(id, result.crxId);
  assert.match(id, /^[a-p]{32}$/);
  const manifest = JSON.parse(String(unzip(archive).get("manifest.json")));
  assert.equal(manifest.version, extensionVersion());
  assert.equal(manifest.update_url, UPDATE_URL);
  assert.equal(manifest.key, undefined, "a CRX takes its id from its signing key");
  assert.ok(unzip(archive).has("background/background.js"));

  const tampered = Buffer.from(readFileSync(result.files.crx));
  tampered[tampered.length - 30] ^= 1;
  assert.throws(() => readCrx3(tampered), /bad signature/);

  const xml = readFileSync(result.files.updatesXml, "utf8");
  assert.match(xml, new RegExp(`<app appid='${id}'>`));
  assert.match(xml, new RegExp(`codebase='https://updates.example.test/cpx/cpx-connect-${extensionVersion()}.crx' version='${extensionVersion()}'`));
  const crxBytes = readFileSync(result.files.crx);
  assert.ok(xml.includes(`hash_sha256='${createHash("sha256").update(crxBytes).digest("hex")}' size='${crxBytes.length}'`), xml);
});

test("the store zip has neither key nor update_url; the xpi has the gecko id and data collection permissions", () => {
  const result = packageAll({ out: join(work, "stores"), version: "9.8.7" });
  assert.equal(result.files.crx, undefined);
  const chromium = JSON.parse(String(unzip(readFileSync(result.files.chromiumZip)).get("manifest.json")));
  assert.equal(chromium.version, "9.8.7");
  assert.equal(chromium.key, undefined);
  assert.equal(chromium.update_url, undefined);
  const firefox = JSON.parse(String(unzip(readFileSync(result.files.xpi)).get("manifest.json")));
  assert.equal(firefox.version, "9.8.7");
  assert.equal(firefox.browser_specific_settings.gecko.id, readIds().firefoxAddonId);
  assert.deepEqual(firefox.browser_specific_settings.gecko.data_collection_permissions, { required: ["none"] });
  assert.throws(() => packageAll({ out: join(work, "bad"), version: "1.0-beta" }), /dot-separated integers/);
});

test("the archives' entries are sorted, dated 1980-01-01 00:00 in any time zone, with no extra fields or modes", () => {
  const files = new Map([["b/two.txt", Buffer.from("two")], ["a.json", Buffer.from("{}".repeat(100))], ["b/one.txt", Buffer.from("")]]);
  const archive = zip(files);
  const savedZone = process.env.TZ;
  process.env.TZ = "Pacific/Kiritimati"; // UTC+14: a time zone leaking into the dates shows here
  try {
    assert.ok(zip(files).equals(archive), "the bytes depend on the time zone");
  } finally {
    if (savedZone === undefined) delete process.env.TZ;
    else process.env.TZ = savedZone;
  }
  const end = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let at = archive.readUInt32LE(end + 16);
  const names = [];
  for (let i = 0; i < archive.readUInt16LE(end + 10); i++) {
    assert.equal(archive.readUInt32LE(at), 0x02014b50, "central directory entry");
    assert.equal(archive.readUInt16LE(at + 4) >> 8, 0, "made by MS-DOS: no Unix modes");
    assert.equal(archive.readUInt16LE(at + 12), 0, "time 00:00:00");
    assert.equal(archive.readUInt16LE(at + 14), (1 << 5) | 1, "date 1980-01-01");
    assert.equal(archive.readUInt16LE(at + 30), 0, "no extra field");
    assert.equal(archive.readUInt32LE(at + 38), 0, "no external attributes");
    const nameLength = archive.readUInt16LE(at + 28);
    names.push(archive.subarray(at + 46, at + 46 + nameLength).toString("utf8"));
    at += 46 + nameLength + archive.readUInt16LE(at + 30) + archive.readUInt16LE(at + 32);
  }
  assert.deepEqual(names, ["a.json", "b/one.txt", "b/two.txt"]);
  assert.deepEqual(unzip(archive), files);
  assert.throws(() => zip(new Map([["../x", Buffer.from("x")]])), /refusing entry name/);
});
