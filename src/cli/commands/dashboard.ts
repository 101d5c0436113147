import { defineCommand } from "citty";
import { fileArg, instanceArg, withHuey } from "../_context";
import { CliUsageError } from "../errors";
import { note } from "../_output";

const args = {
  file: fileArg,
  listen: { type: "string", description: "address to serve on: HOST:PORT or PORT (default 127.0.0.1:8080); a host other than loopback needs a token [HUEY_DASHBOARD_LISTEN]", valueHint: "HOST:PORT" },
  token: { type: "string", description: "require this token (16+ characters) on every request: Authorization: Bearer T, or log in on the page [HUEY_DASHBOARD_TOKEN]", valueHint: "T" },
  instance: instanceArg,
} as const;

export default defineCommand({
  meta: {
    name: "dashboard",
    description:
      "Serve the web dashboard and its JSON API for a tasks file's queue until Ctrl-C: counts, lists with search, task details, dead letters (retry, purge), periodic tasks, locks, revoke/restore, pause/resume, enqueue.\n\n" +
      "Examples:\n" +
      "  huey dashboard tasks.ts\n" +
      "  huey dashboard tasks.ts --listen 127.0.0.1:9000\n" +
      "  HUEY_DASHBOARD_TOKEN=$(openssl rand -hex 24) huey dashboard tasks.ts --listen 0.0.0.0:8080",
  },
  args,
  async run({ args: a }) {
    const { startDashboard } = await import("../../server/http");
    const { ServerConfigError } = await import("../../server/auth");
    await withHuey(
      a.file,
      a.instance,
      async (huey) => {
        let dashboard;
        try {
          dashboard = startDashboard(() => huey, {
            listen: a.listen ?? process.env.HUEY_DASHBOARD_LISTEN ?? "127.0.0.1:8080",
            token: a.token ?? process.env.HUEY_DASHBOARD_TOKEN,
          });
        } catch (err) {
          if (err instanceof ServerConfigError) throw new CliUsageError(err.message, "dashboard");
          throw err;
        }
        note(`dashboard for queue "${huey.name}" on ${dashboard.url} (Ctrl-C to stop)`);
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
        await dashboard.stop();
      },
      { create: true },
    );
  },
});
