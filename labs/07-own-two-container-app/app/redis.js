// A tiny Redis client: just enough of the RESP protocol for INCR and GET.
// Node's standard library only, so the image builds without an npm registry.
'use strict';
const net = require('net');

// Encode a command the way redis-server expects it: an array of bulk strings.
function encode(args) {
  let out = `*${args.length}\r\n`;
  for (const arg of args) {
    const text = String(arg);
    out += `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
  }
  return out;
}

// Decode one reply: +simple, -error, :integer, $bulk (or $-1 for none).
// Returns undefined while the reply is still incomplete.
function decode(buffer) {
  const text = buffer.toString();
  const end = text.indexOf('\r\n');
  if (end < 0) return undefined;
  const kind = text[0];
  const head = text.slice(1, end);
  if (kind === '+') return { value: head };
  if (kind === '-') return { error: head };
  if (kind === ':') return { value: Number(head) };
  if (kind === '$') {
    const length = Number(head);
    if (length < 0) return { value: null };
    const body = buffer.slice(Buffer.byteLength(text.slice(0, end + 2)));
    if (body.length < length + 2) return undefined;
    return { value: body.slice(0, length).toString() };
  }
  return { error: `unexpected reply ${JSON.stringify(text.slice(0, 40))}` };
}

// Send one command on a fresh connection and resolve with its reply.
function command(host, port, args, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host, port });
    let received = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.write(encode(args)));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      const reply = decode(received);
      if (reply === undefined) return;
      socket.end();
      if (reply.error) reject(new Error(`Redis said: ${reply.error}`));
      else resolve(reply.value);
    });
    socket.on('error', reject);
  });
}

module.exports = { command, encode, decode };
