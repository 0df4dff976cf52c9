// Accessibility checks with axe-core (npm, Deque, MPL-2.0): the PIN window, the toolbar popup and
// the sites' pages are checked in the real browsers; serious and critical violations fail a test.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/**
 * @typedef {{ id: string, impact: string | null, help: string, targets: string[] }} Violation
 * @typedef {{ evaluate: <A, R>(fn: (arg: A) => R | Promise<R>, arg?: A) => Promise<R>,
 *   evaluateScript: (source: string) => Promise<unknown> }} AxePage
 */

/**
 * Runs axe-core on the page as it is now (WCAG 2.x A and AA rules plus axe's best practices)
 * and returns the serious and critical violations.
 * @param {AxePage} page
 * @returns {Promise<Violation[]>}
 */
export async function seriousViolations(page) {
  await page.evaluateScript(AXE_SOURCE);
  /** @type {Violation[]} */
  const violations = await page.evaluate(async () => {
    const axe = /** @type {any} */ (window).axe;
    const results = await axe.run(document, { resultTypes: ["violations"] });
    return results.violations.map((/** @type {any} */ violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.map((/** @type {any} */ node) => node.target.join(" ")),
    }));
  });
  return violations.filter((violation) => violation.impact === "serious" || violation.impact === "critical");
}
