// Connect tedious to a TDS server and print one JSON line: did it connect, its error, and
// the chain the server presented (SHA-256 of each certificate, leaf first), as node's TLS
// socket saw it. Arguments: host port encrypt(true|false|strict) trustServerCertificate(true|false)
// serverName [caFile]. Never reads the host's CA store: the CA is the file given, or none.
'use strict';
const fs = require('fs');

const [host, port, encrypt, trust, serverName, caFile] = process.argv.slice(2);
const details = { ca: caFile ? [fs.readFileSync(caFile)] : [] };
const chain = [];
let done = false;
function finish(out) {
  if (done) return;
  done = true;
  process.stdout.write(JSON.stringify(Object.assign({ chain }, out)) + '\n');
  process.exit(0);
}
function record(sock) {
  if (chain.length) return;
  try {
    let c = sock.getPeerCertificate(true);
    const seen = new Set();
    while (c && c.fingerprint256 && !seen.has(c.fingerprint256)) {
      seen.add(c.fingerprint256);
      chain.push(c.fingerprint256.replace(/:/g, '').toLowerCase());
      c = c.issuerCertificate;
    }
  } catch (e) { /* no certificate */ }
}
// Catch every TLS socket tedious makes (TDS 7 inside PRELOGIN, TDS 8 first; patched before
// tedious copies the tls module's functions). Node destroys a socket whose chain fails
// *before* 'secureConnect', when the chain can no longer be read; so the socket is made
// with rejectUnauthorized false and node's own decision (authorized / authorizationError,
// chain and host name, exactly as in tls.js onConnectSecure) is enforced here, after
// recording what the server presented.
const tls = require('tls');
const connect = tls.connect;
tls.connect = function (options, ...rest) {
  const reject = options.rejectUnauthorized !== false;
  const s = connect.call(this, Object.assign({}, options, { rejectUnauthorized: false }), ...rest);
  const emit = s.emit;
  s.emit = function (event, ...args) {
    if (event === 'secureConnect') {
      record(s);
      if (reject && !s.authorized) {
        // As node does: destroy with the verify error, and no 'secureConnect'.
        const err = new Error(String(s.authorizationError));
        err.code = s.authorizationError;
        s.destroy(err);
        return false;
      }
    }
    return emit.call(this, event, ...args);
  };
  return s;
};
const { Connection } = require('tedious');

const conn = new Connection({
  server: host,
  authentication: { type: 'default', options: { userName: 'tlsdoctor', password: 'x' } },
  options: {
    port: Number(port),
    encrypt: encrypt === 'strict' ? 'strict' : encrypt === 'true',
    trustServerCertificate: trust === 'true',
    serverName: serverName || undefined,
    cryptoCredentialsDetails: details,
    connectTimeout: 5000,
  },
});
conn.on('secure', record);
conn.on('connect', (err) => {
  if (err) finish({ ok: false, error: String(err.message || err), code: err.code || null });
  else { conn.close(); finish({ ok: true, error: null, code: null }); }
});
conn.on('error', (err) => finish({ ok: false, error: String(err.message || err), code: err.code || null }));
conn.connect();
setTimeout(() => finish({ ok: false, error: 'timeout', code: null }), 8000);
