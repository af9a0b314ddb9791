// One real Node MCP client against chift-mcp: connect, list the tools, call one, print one JSON line.
//
//   node drive.mjs CLIENT TRANSPORT TARGET [TOKEN]
//
// CLIENT: "ts-sdk" (@modelcontextprotocol/sdk) or "ai-sdk" (@ai-sdk/mcp, the Vercel AI SDK).
// TRANSPORT: "stdio" (TARGET is a JSON array: the command and its arguments; the environment is
// inherited) or "http" (TARGET is the MCP endpoint's URL, TOKEN the bearer token).
// Output: {"ok": true, "tools": N, "items": N, "protocol": "...", "ms": {...}} or
// {"ok": false, "error": "...", "code": N}. Run by tests/node/test_node_clients.py.

import { performance } from "node:perf_hooks";

const [client, transport, target, token] = process.argv.slice(2);
const DEMO = "11111111-1111-4111-8111-111111111111";
const ARGS = { consumer_id: DEMO, limit: 2 };
const started = performance.now();
const ms = {};

function itemsOf(result) {
  if (result?.structuredContent?.items) return result.structuredContent.items.length;
  const text = result?.content?.[0]?.text;
  return text ? JSON.parse(text).items.length : -1;
}

async function tsSdk() {
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const mcp = new Client({ name: "chift-mcp-node-test", version: "1.0.0" });
  let wire;
  if (transport === "stdio") {
    const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
    const [command, ...args] = JSON.parse(target);
    wire = new StdioClientTransport({ command, args, env: process.env, stderr: "ignore" });
  } else {
    const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
    wire = new StreamableHTTPClientTransport(new URL(target), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
  }
  await mcp.connect(wire);
  ms.connected = Math.round(performance.now() - started);
  try {
    const { tools } = await mcp.listTools();
    const result = await mcp.callTool({ name: "accounting_get_clients", arguments: ARGS });
    if (result.isError) throw new Error(result.content?.[0]?.text);
    return { tools: tools.length, items: itemsOf(result), protocol: wire.protocolVersion ?? null };
  } finally {
    await mcp.close();
  }
}

async function aiSdk() {
  const { createMCPClient } = await import("@ai-sdk/mcp");
  let config;
  if (transport === "stdio") {
    const { StdioMCPTransport } = await import("@ai-sdk/mcp/mcp-stdio");
    const [command, ...args] = JSON.parse(target);
    config = new StdioMCPTransport({ command, args, env: process.env, stderr: "ignore" });
  } else {
    config = { type: "http", url: target, headers: { Authorization: `Bearer ${token}` } };
  }
  const mcp = await createMCPClient({ transport: config, onUncaughtError: () => {} });
  ms.connected = Math.round(performance.now() - started);
  try {
    const tools = await mcp.tools();
    const result = await tools.accounting_get_clients.execute(ARGS, { toolCallId: "1", messages: [] });
    if (result.isError) throw new Error(result.content?.[0]?.text);
    return {
      tools: Object.keys(tools).length,
      items: itemsOf(result),
      protocol: mcp.initializeResult?.protocolVersion ?? null,
    };
  } finally {
    await mcp.close();
  }
}

try {
  const out = await (client === "ai-sdk" ? aiSdk() : tsSdk());
  ms.total = Math.round(performance.now() - started);
  console.log(JSON.stringify({ ok: true, ...out, ms }));
  process.exit(0);
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error?.message ?? error), code: error?.code ?? null }));
  process.exit(1);
}
