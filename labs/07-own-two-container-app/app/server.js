// The web half of the two-container Pod: every request to / adds one to a
// counter kept in Redis, found at REDIS_HOST:REDIS_PORT.
'use strict';
const dns = require('dns');
const http = require('http');
const os = require('os');
const redis = require('./redis');

const REDIS_HOST = process.env.REDIS_HOST || 'localhost';
const REDIS_PORT = Number(process.env.REDIS_PORT || 6379);
const PORT = Number(process.env.PORT || 3000);
const KEY = 'visits';

// Newer Node versions resolve "localhost" to ::1 first; Redis may listen on
// IPv4 only, so ask for the IPv4 address first, as Node 14 itself did.
if (dns.setDefaultResultOrder) dns.setDefaultResultOrder('ipv4first');

const server = http.createServer(async (req, res) => {
  if (req.url !== '/') {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
    return;
  }
  try {
    const visits = await redis.command(REDIS_HOST, REDIS_PORT, ['INCR', KEY]);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`Hello from ${os.hostname()}: visit number ${visits}, counted in Redis at ${REDIS_HOST}:${REDIS_PORT}\n`);
  } catch (err) {
    // Say exactly what went wrong: a name that does not resolve reads
    // differently from a port where nothing listens.
    const reason = `cannot reach Redis at ${REDIS_HOST}:${REDIS_PORT}: ${err.message}`;
    console.error(reason);
    res.writeHead(503, { 'Content-Type': 'text/plain' });
    res.end(`${reason}\n`);
  }
});

server.listen(PORT, () => {
  console.log(`web-app listens on port ${PORT}, counts visits in Redis at ${REDIS_HOST}:${REDIS_PORT}`);
});

// Stop at once when Kubernetes asks, instead of waiting out the grace period.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
