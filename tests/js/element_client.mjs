// Element's SDK as a scriptable member: matrix-js-sdk with its Rust crypto (initRustCrypto,
// keys in memory), sending what Element sends, for tests/test_matrix_element_client.py.
//
// Commands are JSON objects, one a line on stdin (or a JSON list in the file named by argv[2]),
// run one at a time: {"id": 1, "op": "login", ...}. Each is answered by one line
// {"id": 1, "ok": true, ...} or {"id": 1, "ok": false, "error": "..."}. Every room event a
// client receives is printed as {"event": {...}} once it is decrypted (or cannot be), with
// a sequence number `seq` per process (and a poll start with `poll`, the poll as Element reads
// it). stdout carries nothing else: the SDK logs go to stderr.
//
// Ops ("as" names a logged-in member):
//   login        {as, homeserver, user_id, password, isolation?: "signed", cross_sign?: true}
//   create_room  {as, name, invite: [user ids], encrypted?: true} -> {room_id}
//   send         {as, room, body, thread?} -> {event_id}   (a thread reply when `thread` is set)
//   edit         {as, room, event_id, body} -> {event_id}
//   poll_answer  {as, room, poll, answer} -> {event_id}
//   wait         {as, after?: seq, room?, not_room?, sender?, types?, contains?: text or texts,
//                timeout_ms?}
//                -> {found}: the first event with seq > after that matches, received or to come
//   devices      {as, user} -> {devices: [{device_id, signed_by_owner, ...}]}
//   quit

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

// The SDK and its Rust crypto log through console: stdout is kept for the protocol, stderr
// gets warnings and errors (everything with ELEMENT_CLIENT_DEBUG=1).
const toStderr = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");
const verbose = Boolean(process.env.ELEMENT_CLIENT_DEBUG);
console.warn = console.error = toStderr;
console.log = console.info = console.debug = console.trace = verbose ? toStderr : () => {};

const sdk = await import("matrix-js-sdk");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
const cryptoApi = await import("matrix-js-sdk/lib/crypto-api/index.js");
const { PollResponseEvent } = await import(
  "matrix-js-sdk/lib/extensible_events_v1/PollResponseEvent.js"
);

const MEGOLM = "m.megolm.v1.aes-sha2";
const members = new Map(); // name -> {client, user_id}
const received = []; // every event printed, in order
const waiters = new Set(); // {test, resolve}
let seq = 0;

const emit = (line) => process.stdout.write(JSON.stringify(line) + "\n");

function member(name) {
  const found = members.get(name);
  if (!found) throw new Error(`no member logged in as ${name}`);
  return found;
}

async function record(name, client, event) {
  const failed = event.isDecryptionFailure();
  const entry = {
    as: name,
    room_id: event.getRoomId(),
    event_id: event.getId(),
    sender: event.getSender(),
    type: event.getType(),
    content: event.getContent(),
    encrypted: event.isEncrypted(),
    utd: failed ? String(event.decryptionFailureReason) : null,
  };
  if (event.isEncrypted() && !failed) {
    // What Element draws beside the message (a red shield: "not verified by its owner").
    const info = await client.getCrypto().getEncryptionInfoForEvent(event);
    entry.shield = info && {
      colour: cryptoApi.EventShieldColour[info.shieldColour],
      reason: info.shieldReason === null ? null : cryptoApi.EventShieldReason[info.shieldReason],
    };
  }
  if (sdk.M_POLL_START.matches(entry.type)) entry.poll = pollAsElementReadsIt(event);
  entry.seq = ++seq;
  received.push(entry);
  emit({ event: entry });
  for (const waiter of waiters) if (waiter.test(entry)) waiter.resolve(entry);
}

// The poll Element draws (MPollBody reads `unstableExtensibleEvent`); null if it draws none.
function pollAsElementReadsIt(event) {
  const poll = event.unstableExtensibleEvent;
  if (!poll?.isEquivalentTo?.(sdk.M_POLL_START)) return null;
  return {
    question: poll.question.text,
    kind: poll.kind.name,
    max_selections: poll.maxSelections,
    answers: poll.answers.map((answer) => ({ id: answer.id, text: answer.text })),
  };
}

function listen(name, client) {
  const seen = new Set(); // event ids printed (a failure is printed again once decrypted)
  const take = (event) => {
    const id = event.getId();
    if (!event.getRoomId() || !id || id.startsWith("~")) return; // local echoes
    if (event.isBeingDecrypted() || event.shouldAttemptDecryption()) return; // `Decrypted` follows
    const key = `${id}:${event.isDecryptionFailure()}`;
    if (seen.has(key)) return;
    seen.add(key);
    record(name, client, event).catch((error) => toStderr("record:", error));
  };
  client.on(sdk.ClientEvent.Event, take);
  client.on(sdk.MatrixEventEvent.Decrypted, take);
  // A member accepts every invitation (as a person clicking "Accept" would).
  client.on(sdk.RoomMemberEvent.Membership, (_event, m) => {
    if (m.userId === client.getUserId() && m.membership === "invite") {
      client.joinRoom(m.roomId).catch((error) => toStderr("join:", error));
    }
  });
}

async function login({ as, homeserver, user_id, password, isolation, cross_sign }) {
  const anonymous = sdk.createClient({ baseUrl: homeserver });
  const session = await anonymous.loginRequest({
    type: "m.login.password",
    identifier: { type: "m.id.user", user: user_id },
    password,
    initial_device_display_name: "Element (matrix-js-sdk)",
  });
  const client = sdk.createClient({
    baseUrl: homeserver,
    userId: session.user_id,
    deviceId: session.device_id,
    accessToken: session.access_token,
    logger: logger.getChild(`[${as}]`),
  });
  await client.initRustCrypto({ useIndexedDB: false });
  const crypto = client.getCrypto();
  if (isolation === "signed") {
    crypto.setDeviceIsolationMode(new cryptoApi.OnlySignedDevicesIsolationMode());
  }
  if (cross_sign) {
    // Element sets up cross-signing at first login; Synapse may ask for the password.
    await crypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: (makeRequest) =>
        makeRequest({
          type: "m.login.password",
          identifier: { type: "m.id.user", user: session.user_id },
          password,
        }),
    });
  }
  members.set(as, { client, user_id: session.user_id });
  listen(as, client);
  const prepared = new Promise((resolve, reject) => {
    client.on(sdk.ClientEvent.Sync, (state, _previous, data) => {
      if (state === sdk.SyncState.Prepared) resolve();
      if (state === sdk.SyncState.Error && !client.isInitialSyncComplete()) reject(data?.error);
    });
  });
  await client.startClient({ threadSupport: true, initialSyncLimit: 20 });
  await prepared;
  return { user_id: session.user_id, device_id: session.device_id };
}

// Element's new private room: encrypted from the start (its createRoom, "Create a room").
async function createRoom({ as, name, invite = [], encrypted = true }) {
  const options = {
    name,
    invite,
    visibility: "private",
    preset: "private_chat",
    initial_state: encrypted
      ? [{ type: "m.room.encryption", state_key: "", content: { algorithm: MEGOLM } }]
      : [],
  };
  const { room_id } = await member(as).client.createRoom(options);
  return { room_id };
}

// Element's composer: plain text with an empty `m.mentions` (element-hq/element-web
// src/components/views/rooms/SendMessageComposer.tsx, attachMentions); in a thread, the SDK adds
// the thread relation with the reply fallback to the thread's latest event.
async function send({ as, room, body, thread = null }) {
  const content = { msgtype: "m.text", body, "m.mentions": {} };
  const { event_id } = await member(as).client.sendMessage(room, thread, content);
  return { event_id };
}

// Element's edit (element-hq/element-web src/components/views/rooms/EditMessageComposer.tsx,
// createEditContent and sendEdit): `* ` before the fallback body, the new text in
// `m.new_content`, an `m.replace` relation; sent with the thread of the original.
async function edit({ as, room, event_id, body }) {
  const { client } = member(as);
  const original = client.getRoom(room)?.findEventById(event_id);
  const replacement = { msgtype: "m.text", body, "m.mentions": {} };
  const content = {
    msgtype: "m.text",
    body: `* ${body}`,
    "m.mentions": {},
    "m.new_content": replacement,
    "m.relates_to": { rel_type: "m.replace", event_id },
  };
  const thread = original?.threadRootId ?? null;
  const sent = await client.sendMessage(room, thread, content);
  return { event_id: sent.event_id };
}

// Element's vote (element-hq/element-web src/components/views/messages/MPollBody.tsx,
// selectOption): PollResponseEvent.from([answer], poll).serialize(), an
// `org.matrix.msc3381.poll.response` with an `m.reference` to the poll.
async function pollAnswer({ as, room, poll, answer }) {
  const { type, content } = PollResponseEvent.from([answer], poll).serialize();
  const { event_id } = await member(as).client.sendEvent(room, type, content);
  return { event_id, type, content };
}

function matcher({ as, after = 0, room, not_room, sender, types, contains }) {
  return (e) =>
    e.as === as &&
    e.seq > after &&
    !e.utd &&
    (room === undefined || e.room_id === room) &&
    (not_room === undefined || e.room_id !== not_room) &&
    (sender === undefined || e.sender === sender) &&
    (types === undefined || types.includes(e.type)) &&
    [contains ?? []].flat().every((text) => String(e.content?.body ?? "").includes(text));
}

async function wait(command) {
  member(command.as);
  const test = matcher(command);
  const found = received.find(test);
  if (found) return { found };
  const timeout = command.timeout_ms ?? 20000;
  let waiter;
  try {
    const event = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const mine = received.filter((e) => e.as === command.as && e.seq > (command.after ?? 0));
        const utd = mine.filter((e) => e.utd).map((e) => `${e.event_id} ${e.utd}`);
        reject(new Error(`nothing matched within ${timeout} ms; ${mine.length} events ` +
          `received, undecryptable: ${JSON.stringify(utd)}`));
      }, timeout);
      const done = (event) => {
        clearTimeout(timer);
        resolve(event);
      };
      waiter = { test, resolve: done };
      waiters.add(waiter);
    });
    return { found: event };
  } finally {
    waiters.delete(waiter);
  }
}

async function devices({ as, user }) {
  const crypto = member(as).client.getCrypto();
  const map = await crypto.getUserDeviceInfo([user], true);
  const result = [];
  for (const device of map.get(user)?.values() ?? []) {
    const status = await crypto.getDeviceVerificationStatus(user, device.deviceId);
    result.push({
      device_id: device.deviceId,
      signed_by_owner: status?.signedByOwner ?? false,
      cross_signing_verified: status?.crossSigningVerified ?? false,
    });
  }
  return { devices: result };
}

async function quit() {
  for (const { client } of members.values()) client.stopClient();
  return {};
}

const OPS = {
  login,
  create_room: createRoom,
  send,
  edit,
  poll_answer: pollAnswer,
  wait,
  devices,
  quit,
};

async function run(command) {
  const op = OPS[command.op];
  try {
    if (!op) throw new Error(`unknown op ${command.op}`);
    emit({ id: command.id, ok: true, ...(await op(command)) });
  } catch (error) {
    toStderr(`${command.op}:`, error?.stack ?? error);
    emit({ id: command.id, ok: false, error: String(error?.message ?? error) });
  }
  return command.op !== "quit";
}

process.on("unhandledRejection", (error) => toStderr("unhandled:", error?.stack ?? error));

const source = process.argv[2]
  ? JSON.parse(readFileSync(process.argv[2], "utf8"))
  : createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const item of source) {
  const command = typeof item === "string" ? (item.trim() ? JSON.parse(item) : null) : item;
  if (command && !(await run(command))) break;
}
await quit();
process.exit(0);
