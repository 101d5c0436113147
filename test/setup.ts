// Preloaded by bunfig.toml for every test file. Integration and e2e tests spawn Workers and
// processes on a 2-core machine: give each test a minute instead of bun's 5 s default. Tests
// still wait for conditions, never for time to pass.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(60_000);
