#!/usr/bin/env node
// Every file of manifests/ that names an extension id, a host name or an update URL, generated
// from one source: extension/ids.json. The browser tests that force-install the extension write
// their policies with these same functions (tests/browser/lib/force-install.mjs), only with the
// throw-away key's id and the local server's URLs, so the templates are what the tests exercised.
//
//   node manifests/generate.mjs            rewrites the templates (the self-hosted channel)
//   node manifests/generate.mjs --check    fails, naming the files, if a committed one differs
//   node manifests/generate.mjs --channel store --out DIR
//                                          the policy templates of another channel, into DIR
//
// The native host manifests admit every channel's known id (`allowedChromeExtensionIds`).

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));
const IDS_FILE = join(HERE, "..", "extension", "ids.json");

/** The example sites of the templates: an administrator lists their own. */
export const EXAMPLE_ORIGINS = ["https://viatrajectoire.sante-ra.fr", "https://*.intranet-ght.example.fr"];
const DESCRIPTION = "CPx Connect: login to health web services with a CPx card (CPS)";

/**
 * @typedef {object} PolicyInputs
 * @property {string} chromeExtensionId
 * @property {string} updateUrl Chromium's update URL: the store's, or a self-hosted updates.xml
 * @property {string} firefoxAddonId
 * @property {string} firefoxInstallUrl where Firefox downloads the signed .xpi
 * @property {string} nativeHostName
 * @property {string[]} allowedOrigins
 */

/** @returns {any} */
export function readIds() {
  return JSON.parse(readFileSync(IDS_FILE, "utf8"));
}

/**
 * The inputs of one channel of ids.json ("store" or "selfHosted").
 * @param {string} channelName
 * @returns {PolicyInputs}
 */
export function channelInputs(channelName) {
  const ids = readIds();
  const channel = ids.channels[channelName];
  if (!channel) throw new Error(`no channel ${channelName} in extension/ids.json`);
  if (!channel.chromeExtensionId) {
    throw new Error(`channel ${channelName} has no chromeExtensionId yet in extension/ids.json (the store assigns it at the first upload)`);
  }
  return {
    chromeExtensionId: channel.chromeExtensionId,
    updateUrl: channel.updateUrl,
    firefoxAddonId: ids.firefoxAddonId,
    firefoxInstallUrl: channel.firefoxInstallUrl,
    nativeHostName: ids.nativeHostName,
    allowedOrigins: EXAMPLE_ORIGINS,
  };
}

/**
 * The extension's managed settings: the sites, and `restrictOrigins: true` next to them, so that
 * a mistyped list (which Chromium drops against managed_schema.json before the extension sees
 * it) refuses every site instead of opening every one.
 * @param {PolicyInputs} inputs
 */
export function managedSettings(inputs) {
  return { allowedOrigins: inputs.allowedOrigins, restrictOrigins: true };
}

/**
 * Chrome, Chromium, Edge, Brave on Linux (and the same keys in every other form below):
 * force-install from the update URL, allow the native host, set `allowedOrigins` and
 * `restrictOrigins`.
 * @param {PolicyInputs} inputs
 */
export function chromiumPolicy(inputs) {
  return {
    ExtensionInstallForcelist: [`${inputs.chromeExtensionId};${inputs.updateUrl}`],
    NativeMessagingAllowlist: [inputs.nativeHostName],
    "3rdparty": { extensions: { [inputs.chromeExtensionId]: managedSettings(inputs) } },
  };
}

/**
 * Firefox's policies.json content.
 * @param {PolicyInputs} inputs
 */
export function firefoxPolicies(inputs) {
  return {
    policies: {
      ExtensionSettings: {
        [inputs.firefoxAddonId]: { installation_mode: "force_installed", install_url: inputs.firefoxInstallUrl },
      },
      "3rdparty": { Extensions: { [inputs.firefoxAddonId]: managedSettings(inputs) } },
    },
  };
}

/**
 * @param {{ nativeHostName: string, path: string, chromeExtensionIds?: string[], firefoxAddonId?: string }} options
 */
export function hostManifest({ nativeHostName, path, chromeExtensionIds, firefoxAddonId }) {
  return {
    name: nativeHostName,
    description: DESCRIPTION,
    path,
    type: "stdio",
    ...(chromeExtensionIds
      ? { allowed_origins: chromeExtensionIds.map((id) => `chrome-extension://${id}/`) }
      : { allowed_extensions: [firefoxAddonId] }),
  };
}

const json = (/** @type {unknown} */ value) => `${JSON.stringify(value, null, 2)}\n`;

// ---- macOS configuration profile ----

/** A stable UUID for a payload identifier, so regenerating gives the same file. @param {string} name */
function stableUuid(name) {
  const hex = createHash("sha256").update(`cpx-connect mobileconfig ${name}`).digest("hex").toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-A${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** @param {string} text */
const xmlText = (text) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * A plist value, indented.
 * @param {unknown} value
 * @param {string} indent
 * @returns {string}
 */
function plistValue(value, indent) {
  if (typeof value === "string") return `${indent}<string>${xmlText(value)}</string>`;
  if (typeof value === "number") return `${indent}<integer>${value}</integer>`;
  if (typeof value === "boolean") return `${indent}<${value}/>`;
  if (Array.isArray(value)) {
    return [`${indent}<array>`, ...value.map((item) => plistValue(item, `${indent}  `)), `${indent}</array>`].join("\n");
  }
  const entries = Object.entries(/** @type {Record<string, unknown>} */ (value));
  return [
    `${indent}<dict>`,
    ...entries.flatMap(([key, item]) => [`${indent}  <key>${xmlText(key)}</key>`, plistValue(item, `${indent}  `)]),
    `${indent}</dict>`,
  ].join("\n");
}

/** @param {PolicyInputs} inputs */
export function mobileconfig(inputs) {
  const chromium = chromiumPolicy(inputs);
  const browsers = [
    ["com.google.Chrome", "Google Chrome"],
    ["org.chromium.Chromium", "Chromium"],
    ["com.microsoft.Edge", "Microsoft Edge"],
    ["com.brave.Browser", "Brave"],
  ];
  /** @param {string} type @param {string} name @param {Record<string, unknown>} settings */
  const payload = (type, name, settings) => ({
    PayloadType: type,
    PayloadIdentifier: `org.cpxconnect.policies.${type}`,
    PayloadUUID: stableUuid(type),
    PayloadVersion: 1,
    PayloadDisplayName: `CPx Connect: ${name}`,
    ...settings,
  });
  const content = browsers.flatMap(([domain, name]) => [
    payload(domain, name, {
      ExtensionInstallForcelist: chromium.ExtensionInstallForcelist,
      NativeMessagingAllowlist: chromium.NativeMessagingAllowlist,
    }),
    payload(`${domain}.extensions.${inputs.chromeExtensionId}`, `${name}, extension settings`, managedSettings(inputs)),
  ]);
  content.push(payload("org.mozilla.firefox", "Firefox", { EnterprisePoliciesEnabled: true, ...firefoxPolicies(inputs).policies }));
  const profile = {
    PayloadType: "Configuration",
    PayloadIdentifier: "org.cpxconnect.policies",
    PayloadUUID: stableUuid("org.cpxconnect.policies"),
    PayloadVersion: 1,
    PayloadScope: "System",
    PayloadDisplayName: "CPx Connect",
    PayloadDescription: "Connexion par carte CPS : extension CPx Connect installée d'office et sites autorisés.",
    PayloadOrganization: "REPLACE-WITH-YOUR-ORGANISATION",
    PayloadContent: content,
  };
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    "<!-- CPx Connect: force-installs the extension in Chrome, Chromium, Edge, Brave and Firefox,",
    "     allows its native host, and limits the sites that may ask for a card login.",
    "     Generated by manifests/generate.mjs from extension/ids.json: do not edit by hand.",
    "     Replace the allowedOrigins examples (and the update and install URLs) before deploying. -->",
    '<plist version="1.0">',
    plistValue(profile, ""),
    "</plist>",
    "",
  ].join("\n");
}

// ---- Windows ----

/** @param {string} text a .reg string value's content */
const regString = (text) => `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/**
 * The policies as a .reg that adds to what a machine already has: a .reg cannot append to a
 * numbered list (ExtensionInstallForcelist "1", "2"...: Chromium stops reading at the first gap),
 * so force-install goes through ExtensionSettings, one subkey per extension (Chromium's "expanded
 * JSON in the registry"; Firefox's GPO reader turns keys into objects too), which sits beside
 * the hospital's other extensions. The lists it writes are the extension's own (3rdparty).
 * @param {PolicyInputs} inputs
 */
export function policiesReg(inputs) {
  const list = (/** @type {string} */ key, /** @type {string[]} */ values) =>
    [`[${key}]`, ...values.map((value, index) => `"${index + 1}"=${regString(value)}`), ""];
  const lines = [
    "Windows Registry Editor Version 5.00",
    "",
    "; CPx Connect policies: force-install the extension and limit the sites that may ask for a",
    "; card login (allowedOrigins; replace the examples). The same settings as",
    "; manifests/policies/*.json, in the registry form Chrome, Edge and Firefox read. It adds to",
    "; the machine's policies: no numbered list entry of yours is overwritten (force-install is an",
    "; ExtensionSettings subkey per extension). If you keep ExtensionSettings as one JSON string",
    "; value instead, add this extension's entry to that string rather than importing this file.",
    "; Native hosts blocked by NativeMessagingBlocklist: add the host name to your",
    `; NativeMessagingAllowlist at its next free number ("${inputs.nativeHostName}").`,
    "; Generated by manifests/generate.mjs from extension/ids.json: do not edit by hand.",
    "; Replace the update URL and Firefox's install_url with where you host the packages.",
    "",
  ];
  for (const vendor of ["Google\\Chrome", "Microsoft\\Edge"]) {
    const base = `HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\${vendor}`;
    lines.push(`[${base}\\ExtensionSettings\\${inputs.chromeExtensionId}]`);
    lines.push(`"installation_mode"="force_installed"`, `"update_url"=${regString(inputs.updateUrl)}`, "");
    // restrictOrigins: with no valid list, the extension refuses every site (a boolean: a DWORD).
    lines.push(`[${base}\\3rdparty\\extensions\\${inputs.chromeExtensionId}\\policy]`, `"restrictOrigins"=dword:00000001`, "");
    lines.push(...list(`${base}\\3rdparty\\extensions\\${inputs.chromeExtensionId}\\policy\\allowedOrigins`, inputs.allowedOrigins));
  }
  const firefox = firefoxPolicies(inputs).policies.ExtensionSettings[inputs.firefoxAddonId];
  lines.push(`[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Mozilla\\Firefox\\ExtensionSettings\\${inputs.firefoxAddonId}]`);
  lines.push(`"installation_mode"=${regString(firefox.installation_mode)}`, `"install_url"=${regString(firefox.install_url)}`, "");
  // Firefox parses REG_MULTI_SZ values as JSON (a DWORD would stay the number 1): "true".
  const multiString = (/** @type {string} */ text) =>
    `hex(7):${[...Buffer.from(`${text}\0\0`, "utf16le")].map((byte) => byte.toString(16).padStart(2, "0")).join(",")}`;
  lines.push(`[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Mozilla\\Firefox\\3rdparty\\Extensions\\${inputs.firefoxAddonId}]`, `"restrictOrigins"=${multiString("true")}`, "");
  lines.push(...list(`HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Mozilla\\Firefox\\3rdparty\\Extensions\\${inputs.firefoxAddonId}\\allowedOrigins`, inputs.allowedOrigins));
  return lines.join("\r\n");
}

/**
 * The ADMX of CPx Connect's own policies, for Chrome, Edge and Firefox: force-install (an
 * ExtensionSettings subkey, as the .reg) and allowedOrigins. Its strings are in
 * windows/admx/<language>/CPxConnect.adml (en-US, fr-FR, written by hand).
 * @param {PolicyInputs} inputs
 */
export function admx(inputs) {
  const chromium = [
    ["Chrome", "Google\\Chrome"],
    ["Edge", "Microsoft\\Edge"],
  ];
  const forceInstall = (/** @type {string} */ name, /** @type {string} */ key, /** @type {string} */ urlValue, /** @type {string} */ supported) => [
    `    <policy name="${name}ForceInstall" class="Machine" displayName="$(string.${name}ForceInstall)" explainText="$(string.${name}ForceInstall_Explain)" presentation="$(presentation.${urlValue === "update_url" ? "UpdateUrl" : "InstallUrl"})" key="${key}">`,
    '      <parentCategory ref="CPxConnect" />',
    `      <supportedOn ref="${supported}" />`,
    // The ADMX schema wants enabledList before elements.
    "      <enabledList>",
    `        <item key="${key}" valueName="installation_mode"><value><string>force_installed</string></value></item>`,
    "      </enabledList>",
    "      <elements>",
    `        <text id="${urlValue === "update_url" ? "UpdateUrl" : "InstallUrl"}" valueName="${urlValue}" required="true" />`,
    "      </elements>",
    "    </policy>",
  ];
  const allowedOrigins = (/** @type {string} */ name, /** @type {string} */ key, /** @type {string} */ supported, /** @type {boolean} */ restrict) => [
    `    <policy name="${name}AllowedOrigins" class="Machine" displayName="$(string.${name}AllowedOrigins)" explainText="$(string.AllowedOrigins_Explain)" presentation="$(presentation.AllowedOrigins)" key="${key}">`,
    '      <parentCategory ref="CPxConnect" />',
    `      <supportedOn ref="${supported}" />`,
    // restrictOrigins (a boolean, a DWORD for Chromium): with no valid list, refuse every site.
    ...(restrict
      ? ["      <enabledList>", `        <item key="${key}" valueName="restrictOrigins"><value><decimal value="1" /></value></item>`, "      </enabledList>"]
      : []),
    "      <elements>",
    `        <list id="AllowedOriginsList" key="${key}\\allowedOrigins" valuePrefix="" />`,
    "      </elements>",
    "    </policy>",
  ];
  const chromeKey = (/** @type {string} */ vendor) => `Software\\Policies\\${vendor}`;
  const firefoxKey = "Software\\Policies\\Mozilla\\Firefox";
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    "<!-- CPx Connect: force-install the extension and the sites allowed to ask for a card login",
    "     (the extension's managed storage, allowedOrigins), for Google Chrome, Microsoft Edge and",
    "     Mozilla Firefox. Copy this file to C:\\Windows\\PolicyDefinitions (or the domain's Central",
    "     Store) and the .adml files to the matching language folders; Intune imports it as an",
    "     imported ADMX (manifests/ADMIN.md). Generated by manifests/generate.mjs. -->",
    '<policyDefinitions xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" revision="1.1" schemaVersion="1.0" xmlns="http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions">',
    "  <policyNamespaces>",
    '    <target prefix="cpxconnect" namespace="CPxConnect.Policies.CPxConnect" />',
    '    <using prefix="windows" namespace="Microsoft.Policies.Windows" />',
    "  </policyNamespaces>",
    '  <resources minRequiredRevision="1.1" />',
    "  <supportedOn>",
    "    <definitions>",
    '      <definition name="SUPPORTED_CHROMIUM_EXTENSIONS" displayName="$(string.SUPPORTED_CHROMIUM_EXTENSIONS)" />',
    '      <definition name="SUPPORTED_FIREFOX_EXTENSIONS" displayName="$(string.SUPPORTED_FIREFOX_EXTENSIONS)" />',
    "    </definitions>",
    "  </supportedOn>",
    "  <categories>",
    '    <category name="CPxConnect" displayName="$(string.CPxConnect)" />',
    "  </categories>",
    "  <policies>",
    ...chromium.flatMap(([name, vendor]) =>
      forceInstall(name, `${chromeKey(vendor)}\\ExtensionSettings\\${inputs.chromeExtensionId}`, "update_url", "SUPPORTED_CHROMIUM_EXTENSIONS"),
    ),
    ...forceInstall("Firefox", `${firefoxKey}\\ExtensionSettings\\${inputs.firefoxAddonId}`, "install_url", "SUPPORTED_FIREFOX_EXTENSIONS"),
    ...chromium.flatMap(([name, vendor]) =>
      allowedOrigins(name, `${chromeKey(vendor)}\\3rdparty\\extensions\\${inputs.chromeExtensionId}\\policy`, "SUPPORTED_CHROMIUM_EXTENSIONS", true),
    ),
    // Firefox reads a DWORD as a number, not a boolean: restrictOrigins is left to the MSI
    // (REG_MULTI_SZ, parsed as JSON) and policies.json.
    ...allowedOrigins("Firefox", `${firefoxKey}\\3rdparty\\Extensions\\${inputs.firefoxAddonId}`, "SUPPORTED_FIREFOX_EXTENSIONS", false),
    "  </policies>",
    "</policyDefinitions>",
    "",
  ].join("\n");
}

/**
 * Every generated template of a channel: relative path -> content.
 * @param {string} channelName
 * @returns {Map<string, string>}
 */
export function templates(channelName) {
  const ids = readIds();
  const inputs = channelInputs(channelName);
  const chromeExtensionIds = ids.allowedChromeExtensionIds;
  const host = (/** @type {string} */ path, /** @type {boolean} */ firefox) =>
    json(hostManifest(firefox ? { nativeHostName: ids.nativeHostName, path, firefoxAddonId: ids.firefoxAddonId } : { nativeHostName: ids.nativeHostName, path, chromeExtensionIds }));
  return new Map([
    ["native-host/org.cpxconnect.host.chromium.json", host("/usr/bin/cpx-connect", false)],
    ["native-host/org.cpxconnect.host.firefox.json", host("/usr/bin/cpx-connect", true)],
    ["windows/org.cpxconnect.host.json", host("cpx-connect.exe", false)],
    ["windows/org.cpxconnect.host.firefox.json", host("cpx-connect.exe", true)],
    ["policies/chromium/cpx-connect.json", json(chromiumPolicy(inputs))],
    ["policies/firefox/policies.json", json(firefoxPolicies(inputs))],
    ["macos/cpx-connect.mobileconfig", mobileconfig(inputs)],
    ["windows/cpx-connect-policies.reg", policiesReg(inputs)],
    ["windows/admx/CPxConnect.admx", admx(inputs)],
  ]);
}

/** The channel whose templates are committed in manifests/. */
export const COMMITTED_CHANNEL = "selfHosted";

function main() {
  const { values } = parseArgs({
    options: { check: { type: "boolean" }, channel: { type: "string" }, out: { type: "string" } },
  });
  const channel = values.channel ?? COMMITTED_CHANNEL;
  const out = values.out ? resolve(values.out) : HERE;
  if (channel !== COMMITTED_CHANNEL && out === HERE) throw new Error("--channel other than selfHosted needs --out DIR");
  const files = templates(channel);
  if (values.check) {
    const stale = [...files].filter(([name, text]) => !existsSync(join(out, name)) || readFileSync(join(out, name), "utf8") !== text);
    if (stale.length) {
      throw new Error(`out of date (run node manifests/generate.mjs and commit): ${stale.map(([name]) => `manifests/${name}`).join(", ")}`);
    }
    console.log(`manifests: ${files.size} generated templates match extension/ids.json`);
    return;
  }
  for (const [name, text] of files) {
    mkdirSync(dirname(join(out, name)), { recursive: true });
    writeFileSync(join(out, name), text);
  }
  console.log(`wrote ${files.size} templates into ${out} (channel ${channel})`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    main();
  } catch (error) {
    console.error(`generate.mjs: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
}
