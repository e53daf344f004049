// A minimal OpenAI-compatible server for the network-namespace privacy test: it runs inside the
// namespace next to the language server (the test's own loopback is another namespace's), answers
// /v1/chat/completions and /v1/completions with a fixed reply (streamed when asked), and appends
// every request's path and body to a JSON-lines file, written before the answer so that whatever
// the language server has been answered is already in the file.
// Usage: node loopbackCloud.mjs PORT LOGFILE — prints "listening" once it accepts connections.
import fs from "node:fs";
import http from "node:http";

const [port, log] = [Number(process.argv[2]), process.argv[3]];
const REPLY = "```ts\nexport {};\n```";

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const text = Buffer.concat(chunks).toString("utf8");
    let body;
    try {
      body = JSON.parse(text || "{}");
    } catch {
      body = { unparsed: text };
    }
    fs.appendFileSync(log, `${JSON.stringify({ path: req.url, body })}\n`);
    const chat = req.url === "/v1/chat/completions";
    if (!chat && req.url !== "/v1/completions") {
      res.writeHead(404, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ error: { message: "not found" } }));
    }
    const choice = (delta, finish) => (chat ? { index: 0, delta: delta === null ? {} : { content: delta }, finish_reason: finish } : { index: 0, text: delta ?? "", finish_reason: finish });
    if (body.stream) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const send = (delta, finish) => res.write(`data: ${JSON.stringify({ id: "lc", object: chat ? "chat.completion.chunk" : "text_completion", model: body.model, choices: [choice(delta, finish)] })}\n\n`);
      send(chat ? REPLY : "a + b;", null);
      send(null, "stop");
      return void res.end("data: [DONE]\n\n");
    }
    res.writeHead(200, { "content-type": "application/json" });
    const message = chat ? { index: 0, message: { role: "assistant", content: REPLY }, finish_reason: "stop" } : { index: 0, text: "a + b;", finish_reason: "stop" };
    res.end(JSON.stringify({ id: "lc", object: chat ? "chat.completion" : "text_completion", model: body.model, choices: [message] }));
  });
});
server.listen(port, "127.0.0.1", () => process.stdout.write("listening\n"));
