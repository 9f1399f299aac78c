// Starts local-aws-sqs on 127.0.0.1 for the queue tests: node start.mjs PORT
// (0 picks a free port). Prints "listening PORT" once it accepts requests.
//
// It also makes a purge act at once (see below).
//
// local-aws-sqs holds a long poll (WaitTimeSeconds > 0) for its whole wait
// unless it fills MaxNumberOfMessages, handing a message out again each
// time its visibility runs out meanwhile. SQS answers as soon as it has a
// message; so does this wrapper: it polls the server with WaitTimeSeconds
// 0 every few milliseconds until it has messages or the wait is over.
import { createServer } from "node:http";
import { PassThrough } from "node:stream";
import { createRequestHandler } from "local-aws-sqs";

const port = Number(process.argv[2] ?? 0);
const options = {
  port,
  hostname: "127.0.0.1",
  emulateQueueCreationLifecycle: false,
  region: "us-east-1",
  accountId: "000000000000",
};
const { service, requestHandler } = createRequestHandler(options);

// call runs one request through the server's handler without a socket.
function call(headers, body) {
  return new Promise((resolve) => {
    const req = new PassThrough();
    req.headers = headers;
    req.method = "POST";
    req.url = "/";
    const res = {
      statusCode: 200,
      headers: {},
      setHeader(k, v) { this.headers[k.toLowerCase()] = v; },
      getHeader(k) { return this.headers[k.toLowerCase()]; },
      writeHead(code, h) { this.statusCode = code; Object.assign(this.headers, h ?? {}); return this; },
      end(data) { resolve({ status: this.statusCode, headers: this.headers, body: data ?? "" }); },
    };
    requestHandler(req, res);
    req.end(body);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const server = createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks).toString("utf-8");
  let headers = { ...req.headers };
  let answer;
  const target = String(req.headers["x-amz-target"] ?? "");
  let parsed;
  try { parsed = JSON.parse(body); } catch { parsed = undefined; }
  if (target.endsWith(".ReceiveMessage") && parsed && Number(parsed.WaitTimeSeconds) > 0) {
    const deadline = Date.now() + Number(parsed.WaitTimeSeconds) * 1000;
    const once = JSON.stringify({ ...parsed, WaitTimeSeconds: 0 });
    headers["content-length"] = String(Buffer.byteLength(once));
    for (;;) {
      answer = await call(headers, once);
      if (answer.status !== 200 || String(answer.body).includes("\"Messages\"") || Date.now() >= deadline) break;
      await sleep(20);
    }
  } else {
    answer = await call(headers, body);
    // SQS may take up to 60 s to act on a purge, and usually acts at once;
    // local-aws-sqs always takes the 60 s. Act at once.
    if (target.endsWith(".PurgeQueue") && answer.status === 200 && parsed?.QueueUrl) {
      const name = String(parsed.QueueUrl).split("/").pop();
      service.Queues.find((q) => q.QueueName === name)?.clearRecords();
    }
  }
  for (const [k, v] of Object.entries(answer.headers)) res.setHeader(k, v);
  res.statusCode = answer.status;
  res.end(answer.body);
});

server.listen(port, "127.0.0.1", () => {
  service.PORT = server.address().port;
  process.stdout.write(`listening ${server.address().port}\n`);
});
// The test's end closes stdin: stop with it, so no server outlives its test.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
