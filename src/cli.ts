#!/usr/bin/env bun
// The `huey` executable: build.ts compiles this file (with the worker entry) into dist/huey.
import { main } from "./cli/main";

const code = await main(process.argv.slice(2));
// A consumer that stopped has closed everything; exit explicitly so a stray handle cannot keep us up.
process.exit(code);
