// The browser the page-script tests (demo/tests/browser, idp/tests/browser) run in: Chromium
// (CHROMIUM, else /usr/bin/chromium) driven by playwright-core from tests/browser/node_modules
// (`npm ci` there), so that those folders need no package of their own.

import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Launches Chromium for a page-script test; the caller closes it. */
export function launchChromium() {
  const require = createRequire(join(REPO, "tests", "browser", "package.json"));
  const { chromium } = require("playwright-core");
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
}
