// CRX3, the package format Chromium installs off-store extensions from (force-install with a
// self-hosted update URL). Layout, from Chromium's components/crx_file (crx3.proto, crx_verifier.cc):
//   "Cr24" | uint32le 3 | uint32le header size | CrxFileHeader (protobuf) | ZIP archive
// CrxFileHeader { repeated AsymmetricKeyProof sha256_with_rsa = 2; bytes signed_header_data = 10000; }
// AsymmetricKeyProof { bytes public_key = 1; bytes signature = 2; }   (public_key: DER SPKI)
// SignedData { bytes crx_id = 1; }   (crx_id: the first 16 bytes of SHA-256(public_key))
// The signature is RSASSA-PKCS1-v1_5 with SHA-256 over
//   "CRX3 SignedData\x00" | uint32le size(signed_header_data) | signed_header_data | archive
// PKCS#1 v1.5 signatures are deterministic, so the same key and archive give the same bytes.

import { createHash, createPublicKey, sign, verify } from "node:crypto";

const MAGIC = Buffer.from("Cr24", "ascii");
const SIGNATURE_CONTEXT = Buffer.from("CRX3 SignedData\x00", "binary");

/** @param {number} value */
function varint(value) {
  const bytes = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** A length-delimited protobuf field. @param {number} field @param {Buffer} bytes */
function bytesField(field, bytes) {
  return Buffer.concat([varint(field * 8 + 2), varint(bytes.length), bytes]);
}

/** @param {Buffer} buffer @returns {Map<number, Buffer[]>} the length-delimited fields only */
function readFields(buffer) {
  /** @type {Map<number, Buffer[]>} */
  const fields = new Map();
  let at = 0;
  const readVarint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (at >= buffer.length) throw new Error("crx: truncated protobuf");
      const byte = buffer[at++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  };
  while (at < buffer.length) {
    const key = readVarint();
    if (key % 8 !== 2) throw new Error(`crx: unexpected protobuf wire type ${key % 8}`);
    const length = readVarint();
    if (at + length > buffer.length) throw new Error("crx: truncated protobuf field");
    const list = fields.get(Math.floor(key / 8)) ?? [];
    list.push(buffer.subarray(at, at + length));
    fields.set(Math.floor(key / 8), list);
    at += length;
  }
  return fields;
}

/** Chromium's extension id of a DER SPKI: its SHA-256, first 32 hex digits mapped 0-f -> a-p. @param {Buffer} spki */
export function extensionIdOfSpki(spki) {
  const hex = createHash("sha256").update(spki).digest("hex").slice(0, 32);
  return [...hex].map((digit) => String.fromCharCode(97 + parseInt(digit, 16))).join("");
}

/** @param {Buffer} signedHeaderData @param {Buffer} archive */
function signedBytes(signedHeaderData, archive) {
  const size = Buffer.alloc(4);
  size.writeUInt32LE(signedHeaderData.length);
  return Buffer.concat([SIGNATURE_CONTEXT, size, signedHeaderData, archive]);
}

/**
 * @param {Buffer} archive the extension's ZIP
 * @param {import("node:crypto").KeyObject} privateKey RSA
 * @returns {{ crx: Buffer, id: string }}
 */
export function packCrx3(archive, privateKey) {
  if (privateKey.asymmetricKeyType !== "rsa") throw new Error("crx: the signing key must be RSA");
  const spki = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  const crxId = createHash("sha256").update(spki).digest().subarray(0, 16);
  const signedHeaderData = bytesField(1, crxId);
  const signature = sign("sha256", signedBytes(signedHeaderData, archive), privateKey);
  const proof = Buffer.concat([bytesField(1, spki), bytesField(2, signature)]);
  const header = Buffer.concat([bytesField(2, proof), bytesField(10000, signedHeaderData)]);
  const fixed = Buffer.alloc(8);
  fixed.writeUInt32LE(3, 0);
  fixed.writeUInt32LE(header.length, 4);
  return { crx: Buffer.concat([MAGIC, fixed, header, archive]), id: extensionIdOfSpki(spki) };
}

/**
 * Reads and checks a CRX3 as Chromium does for an RSA-signed file: the proof whose key gives the
 * declared crx_id must verify. Returns the id and the archive.
 * @param {Buffer} crx
 * @returns {{ id: string, archive: Buffer }}
 */
export function readCrx3(crx) {
  if (crx.length < 12 || !crx.subarray(0, 4).equals(MAGIC)) throw new Error("crx: no Cr24 magic");
  if (crx.readUInt32LE(4) !== 3) throw new Error(`crx: version ${crx.readUInt32LE(4)}, not 3`);
  const headerEnd = 12 + crx.readUInt32LE(8);
  if (headerEnd > crx.length) throw new Error("crx: header longer than the file");
  const header = readFields(crx.subarray(12, headerEnd));
  const archive = crx.subarray(headerEnd);
  const signedHeaderData = header.get(10000)?.[0];
  if (!signedHeaderData) throw new Error("crx: no signed header data");
  const crxId = readFields(signedHeaderData).get(1)?.[0];
  if (!crxId || crxId.length !== 16) throw new Error("crx: no 16-byte crx_id");
  for (const proofBytes of header.get(2) ?? []) {
    const proof = readFields(proofBytes);
    const spki = proof.get(1)?.[0];
    const signature = proof.get(2)?.[0];
    if (!spki || !signature) continue;
    if (!createHash("sha256").update(spki).digest().subarray(0, 16).equals(crxId)) continue;
    const key = createPublicKey({ key: spki, format: "der", type: "spki" });
    if (!verify("sha256", signedBytes(signedHeaderData, archive), key, signature)) throw new Error("crx: bad signature");
    return { id: extensionIdOfSpki(spki), archive };
  }
  throw new Error("crx: no RSA proof for the declared crx_id");
}
