// Builds a scenario for fake-host/fake-host.mjs and a wrapper script the browser can start.

import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BROWSER_TESTS_DIR } from "./paths.mjs";
import { fixtures } from "./fixtures.mjs";

export const CORRECT_PIN = "1234";

/**
 * A card as the fake host describes it.
 * @param {0 | 1} index which test holder
 * @param {{ retriesLeft?: number, reader?: string }} [options]
 */
export function fakeCard(index, { retriesLeft = 3, reader } = {}) {
  const holder = fixtures().holders[index];
  const people = [
    { idNat: "810002813839", surname: "DUPONT", givenName: "MARIE", profession: "Médecin" },
    { idNat: "810009999999", surname: "MARTIN", givenName: "PAUL", profession: "Infirmier" },
  ];
  return {
    certificateId: holder.certificateId,
    reader: reader ?? `Lecteur virtuel ${index}`,
    cardType: index === 0 ? "CPS3" : "CPS4",
    certificate: holder.certificateBase64,
    holder: people[index],
    notAfter: holder.notAfter,
    pin: { retriesLeft, maxRetries: 3 },
    correctPin: CORRECT_PIN,
    keyFile: holder.keyFile,
  };
}

/**
 * A default scenario: the PC/SC service up, one reader, one CPS3 card.
 * @param {Record<string, unknown>} [overrides]
 */
export function scenario(overrides = {}) {
  const card = fakeCard(0);
  return {
    version: "0.0.0-fake",
    protocol: 1,
    service: "ok",
    readers: [{ name: card.reader, card: { atr: "3BAC00402A001225006480000310009000", type: "CPS3" } }],
    certificates: [card],
    ...overrides,
  };
}

/**
 * Writes the scenario and a wrapper script into `dir`; returns the wrapper's path (the `path` of
 * the host manifest) and a reader for the requests the host received.
 * @param {string} dir
 * @param {Record<string, unknown>} config
 */
export function installFakeHost(dir, config) {
  const scenarioFile = join(dir, "fake-host-scenario.json");
  const logFile = join(dir, "fake-host-requests.jsonl");
  writeFileSync(scenarioFile, JSON.stringify({ ...config, log: logFile }, null, 2));
  const wrapper = join(dir, "fake-host.sh");
  const script = join(BROWSER_TESTS_DIR, "fake-host", "fake-host.mjs");
  writeFileSync(
    wrapper,
    `#!/bin/sh\nCPX_FAKE_HOST_SCENARIO='${scenarioFile}' exec '${process.execPath}' '${script}' "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  return {
    path: wrapper,
    /** @returns {any[]} every log entry so far */
    entries() {
      if (!existsSync(logFile)) return [];
      return readFileSync(logFile, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
    },
    /** @param {string} command */
    requests(command) {
      return this.entries().filter((entry) => entry.event === "request" && entry.command === command);
    },
  };
}
