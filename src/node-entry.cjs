// What Node.js (and any runtime that is not Bun) gets for `import "bun-huey"` or require("bun-huey"):
// the package's `node` and `default` export conditions point here, Bun's `bun` condition to the bundle.
// The library needs bun:sqlite, Bun.SQL, Bun's Redis client and Bun Workers, so it cannot work here.
// One line and exit 1: a thrown error would print as a source excerpt, a stack and a footer.
"use strict";
const message =
  "bun-huey runs on Bun (https://bun.sh), not on Node.js: run your app with bun (bun app.ts), not node";
if (typeof process !== "undefined" && typeof process.exit === "function" && process.stderr) {
  process.stderr.write(message + "\n");
  process.exit(1);
}
throw new Error(message);
