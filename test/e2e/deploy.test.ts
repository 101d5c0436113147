// deploy/huey.service passes `systemd-analyze verify` (where systemd-analyze exists), with the
// binary path pointed at a real executable, and keeps TimeoutStopSec above --grace.
import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, tempDir } from "../harness";

const unit = readFileSync(join(ROOT, "deploy", "huey.service"), "utf8");

test("TimeoutStopSec is above --grace plus the 1 s abort grace; restarts on failure", () => {
  const grace = Number(/--grace (\d+)s/.exec(unit)![1]);
  const stop = Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)![1]);
  expect(stop).toBeGreaterThan(grace + 1);
  expect(unit).toMatch(/^Restart=on-failure$/m);
  expect(unit).toMatch(/^User=huey$/m);
});

test("systemd-analyze verify accepts the unit", async () => {
  const analyze = Bun.which("systemd-analyze");
  if (!analyze) {
    console.log("skip: systemd-analyze is not installed here");
    return;
  }
  const file = join(tempDir("huey-unit-"), "huey.service");
  writeFileSync(file, unit.replaceAll("/srv/app/huey ", `${process.execPath} `));
  const p = Bun.spawn([analyze, "verify", file], { stdout: "pipe", stderr: "pipe" });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  expect({ code, err }).toEqual({ code: 0, err: "" });
});
