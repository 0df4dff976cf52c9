import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_QUEUED_REQUESTS, NativePortService } from "../src/background/nativePort.js";
import { fakeConnector, flush, handshakingConnector } from "./fakes.mjs";

const HOST = "org.cpxconnect.host";

test("connects lazily, checks the version, then numbers each request", async () => {
  const { ports, connectNative } = handshakingConnector();
  const service = new NativePortService({ connectNative, hostName: HOST });
  assert.equal(service.state, "idle");
  assert.equal(ports.length, 0, "nothing opened before the first request");

  const status = service.request("status");
  await flush();
  const port = ports[0];
  assert.equal(service.state, "ready");
  const request = port.last();
  assert.deepEqual(port.sent.map((m) => m.command), ["version", "status"]);
  assert.notEqual(request.id, port.sent[0].id);
  port.answer({ id: request.id, result: { service: "ok", readers: [] } });
  assert.deepEqual(await status, { service: "ok", readers: [] });
  assert.deepEqual(await service.version(), { version: "1.2.3", protocol: 1 });
  service.close();
});

test("another protocol is ERR_HOST_INCOMPATIBLE and the port is closed", async () => {
  const { ports, connectNative } = handshakingConnector(2);
  const service = new NativePortService({ connectNative, hostName: HOST });
  await assert.rejects(service.request("status"), { code: "ERR_HOST_INCOMPATIBLE" });
  assert.equal(ports[0].disconnected, true);
  assert.equal(service.state, "gone");
});

test("a host that exits before the handshake is ERR_HOST_NOT_INSTALLED, with the browser's reason", async () => {
  const { ports, connectNative } = fakeConnector((port) => queueMicrotask(() => port.exit("No such native application org.cpxconnect.host")));
  const service = new NativePortService({ connectNative, hostName: HOST });
  await assert.rejects(service.request("status"), (error) => {
    assert.equal(/** @type {any} */ (error).code, "ERR_HOST_NOT_INSTALLED");
    assert.match(/** @type {Error} */ (error).message, /No such native application/);
    return true;
  });
  assert.equal(ports.length, 1);
});

test("Chromium's lastError message is used when the port carries no error", async () => {
  const { connectNative } = fakeConnector((port) => queueMicrotask(() => port.exit()));
  const service = new NativePortService({
    connectNative,
    hostName: HOST,
    lastErrorMessage: () => "Specified native messaging host not found.",
  });
  await assert.rejects(service.request("status"), /Specified native messaging host not found/);
});

test("a host that exits with requests pending fails them with ERR_HOST_CRASHED; the next request reconnects", async () => {
  const { ports, connectNative } = handshakingConnector();
  const service = new NativePortService({ connectNative, hostName: HOST });
  const certificates = service.request("certificates");
  await flush();
  ports[0].exit("Native host has exited.");
  await assert.rejects(certificates, { code: "ERR_HOST_CRASHED" });
  assert.equal(service.state, "gone");

  const status = service.request("status");
  await flush();
  assert.equal(ports.length, 2, "a fresh port");
  ports[1].answer({ id: ports[1].last().id, result: { service: "ok", readers: [] } });
  assert.equal((await status).service, "ok");
  service.close();
});

test("no answer in time is ERR_TIMEOUT, the port is dropped and a late answer is ignored", async () => {
  const { ports, connectNative } = handshakingConnector();
  const service = new NativePortService({ connectNative, hostName: HOST, timeouts: { status: 30 } });
  const status = service.request("status");
  await assert.rejects(status, { code: "ERR_TIMEOUT" });
  assert.equal(ports[0].disconnected, true);
  assert.equal(service.state, "gone");
  // The old port's late answer changes nothing.
  ports[0].answer({ id: 2, result: { service: "ok" } });
  assert.equal(service.pending.size, 0);
});

test("a host that never answers the handshake is ERR_HOST_NOT_INSTALLED", async () => {
  const { connectNative } = fakeConnector();
  const service = new NativePortService({ connectNative, hostName: HOST, timeouts: { handshake: 20 } });
  await assert.rejects(service.request("status"), { code: "ERR_HOST_NOT_INSTALLED" });
});

/**
 * Sends `command` through a fresh service, lets the host answer it with `error`, and returns the
 * failure's wire form (what reaches the page) with the service, to check and close.
 * @param {string} command @param {any} args @param {any} error
 */
async function hostErrorAsThePageSeesIt(command, args, error) {
  const { ports, connectNative } = handshakingConnector();
  const service = new NativePortService({ connectNative, hostName: HOST });
  const attempt = service.request(command, args);
  await flush();
  ports[0].answer({ id: ports[0].last().id, error });
  const failure = await attempt.then(() => assert.fail("the request succeeded"), (failure) => failure);
  return { wire: failure.toWire(), service };
}

test("host errors pass through with their code and known details only", async () => {
  const { wire, service } = await hostErrorAsThePageSeesIt("authenticate", { pin: "0000" }, {
    code: "ERR_PIN_INCORRECT", message: "wrong PIN", retriesLeft: 2, debug: "not forwarded",
  });
  assert.deepEqual(wire, { code: "ERR_PIN_INCORRECT", message: "wrong PIN", retriesLeft: 2 });
  assert.equal(service.state, "ready", "an error answer keeps the port");
  service.close();
});

test("a CPS read contactless reaches the page as ERR_CARD_UNSUPPORTED with its cardState", async () => {
  const message = "the CPS card is read contactless: insert it in the reader's contact slot";
  const error = { code: "ERR_CARD_UNSUPPORTED", message, cardState: "contactless" };
  const { wire, service } = await hostErrorAsThePageSeesIt("certificates", undefined, error);
  assert.deepEqual(wire, { code: "ERR_CARD_UNSUPPORTED", message, cardState: "contactless" });
  service.close();
});

test("an error with id null belongs to the oldest request", async () => {
  const { ports, connectNative } = handshakingConnector();
  const service = new NativePortService({ connectNative, hostName: HOST });
  const first = service.request("status");
  await flush();
  const second = service.send("certificates", undefined, 1_000);
  ports[0].answer({ id: null, error: { code: "ERR_INVALID_REQUEST", message: "bad frame" } });
  await assert.rejects(first, { code: "ERR_INVALID_REQUEST" });
  ports[0].answer({ id: ports[0].last().id, result: { certificates: [] } });
  assert.deepEqual(await second, { certificates: [] });
  service.close();
});

test("an idle port closes by itself unless an operation holds it", async () => {
  const { ports, connectNative } = handshakingConnector();
  const service = new NativePortService({ connectNative, hostName: HOST, timeouts: { idle: 20 } });
  service.hold();
  await service.version();
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(ports[0].disconnected, false, "held");
  service.release();
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(ports[0].disconnected, true);
  assert.equal(service.state, "idle");
});

test("concurrent first requests share one connection", async () => {
  const { ports, connectNative } = handshakingConnector();
  const service = new NativePortService({ connectNative, hostName: HOST });
  const a = service.version();
  const b = service.version();
  await Promise.all([a, b]);
  assert.equal(ports.length, 1);
  service.close();
});

/** A handshaking connector whose host answers nothing else by itself. */
function manualHost() {
  return handshakingConnector();
}

test("each timer starts when its request reaches the host: a request queued behind a slow one does not time out early", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { ports, connectNative } = manualHost();
  const service = new NativePortService({ connectNative, hostName: HOST, timeouts: { status: 60, authenticate: 60 } });
  const status = service.request("status");
  await flush();
  await flush();
  const login = service.request("authenticate", { pin: "1234" });
  await flush();
  const port = ports[0];
  assert.deepEqual(port.sent.map((m) => m.command), ["version", "status"], "one request at a time with the host");
  t.mock.timers.tick(40);
  port.answer({ id: port.last().id, result: { service: "ok", readers: [] } });
  await status;
  assert.equal(port.last().command, "authenticate");
  t.mock.timers.tick(40); // 80 ms after it was queued, 40 ms after it reached the host
  port.answer({ id: port.last().id, result: { format: "web-eid:1.0" } });
  assert.deepEqual(await login, { format: "web-eid:1.0" });
  service.close();
});

test("one request's timeout never fails another's: requests still queued go to a fresh host", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { ports, connectNative } = manualHost();
  const service = new NativePortService({ connectNative, hostName: HOST, timeouts: { status: 50 } });
  const status = service.request("status");
  await flush();
  await flush();
  const login = service.request("authenticate", { pin: "1234" });
  await flush();
  const failed = assert.rejects(status, { code: "ERR_TIMEOUT" });
  t.mock.timers.tick(50);
  await failed;
  await flush();
  await flush();
  assert.equal(ports[0].disconnected, true, "the hung host is dropped");
  assert.equal(ports.length, 2);
  assert.equal(ports[0].sent.filter((m) => m.command === "authenticate").length, 0, "the PIN never reached the hung host");
  assert.equal(ports[1].last().command, "authenticate");
  ports[1].answer({ id: ports[1].last().id, result: { format: "web-eid:1.0" } });
  assert.deepEqual(await login, { format: "web-eid:1.0" });
  service.close();
});

test("concurrent status calls share one request to the host", async () => {
  const { ports, connectNative } = manualHost();
  const service = new NativePortService({ connectNative, hostName: HOST });
  const calls = [service.request("status"), service.request("status"), service.request("status")];
  await flush();
  await flush();
  const port = ports[0];
  assert.equal(port.sent.filter((m) => m.command === "status").length, 1);
  port.answer({ id: port.last().id, result: { service: "ok", readers: [] } });
  for (const call of calls) assert.equal((await call).service, "ok");
  service.close();
});

test("the queue is bounded: a flood is refused with ERR_BUSY, the requests already queued still run", async () => {
  const { ports, connectNative } = manualHost();
  const service = new NativePortService({ connectNative, hostName: HOST });
  await service.version();
  const queued = Array.from({ length: MAX_QUEUED_REQUESTS + 1 }, (_, index) => service.request("certificates", { index }));
  await flush();
  const overflow = service.request("certificates", { index: "overflow" });
  await assert.rejects(overflow, { code: "ERR_BUSY" });
  const port = ports[0];
  for (let answered = 0; answered < queued.length; answered++) {
    port.answer({ id: port.last().id, result: { certificates: [], index: port.last().arguments.index } });
    await flush();
  }
  assert.equal((await queued[queued.length - 1]).index, MAX_QUEUED_REQUESTS);
  service.close();
});
