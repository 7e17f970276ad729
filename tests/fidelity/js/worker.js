// A workflow app written with the JavaScript SDK (@dapr/dapr), for tests/fidelity: it serves
// one workflow that calls one activity, on the sidecar that DAPR_GRPC_PORT names, until
// SIGTERM. It prints "worker started" once its runtime is started.
"use strict";

const { WorkflowRuntime } = require("@dapr/dapr");

const greet = async (_ctx, name) => `Hello, ${name}!`;

const greeting = async function* (ctx, name) {
  const text = yield ctx.callActivity(greet, name);
  return { greeting: text, runtime: "javascript" };
};

async function main() {
  const runtime = new WorkflowRuntime({
    daprHost: process.env.DAPR_HOST ?? "127.0.0.1",
    daprPort: process.env.DAPR_GRPC_PORT,
  });
  runtime.registerWorkflowWithName("js_greeting", greeting);
  runtime.registerActivityWithName("greet", greet);
  await runtime.start();
  console.log("worker started");
  process.on("SIGTERM", async () => {
    await runtime.stop();
    process.exit(0);
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
